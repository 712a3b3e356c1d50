"""Generates apscheduler203.json, next-fire times computed by the real
APScheduler 2.0.3 (Python 2.7, naive datetimes) for random schedules.

Usage: PYTHONPATH=/path/to/APScheduler-2.0.3 python2.7 gen_apscheduler203.py > apscheduler203.json

Each case lists the trigger kwargs, a start time and the next three fire
times, each computed as get_next_fire_time(previous + 1 microsecond), which
is how the 2.0.3 scheduler asks for the fire time strictly after a run.
Schedules that 2.0.3 needs more than a second for are skipped.
"""
import json
import random
import signal
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
POSITIONS = ['1st', '2nd', '3rd', '4th', '5th', 'last']
RANGES = {'year': (2020, 2035), 'month': (1, 12), 'day': (1, 31),
          'week': (1, 53), 'day_of_week': (0, 6), 'hour': (0, 23),
          'minute': (0, 59), 'second': (0, 59)}


def numeric(r, lo, hi):
    kind = r.randint(0, 5)
    a = r.randint(lo, hi)
    b = r.randint(a, hi)
    n = r.randint(1, max(1, (hi - lo) // 2))
    if kind == 0:
        return '*'
    if kind == 1:
        return '*/%d' % n
    if kind == 2:
        return str(a)
    if kind == 3:
        return '%d-%d' % (a, b)
    if kind == 4:
        return '%d-%d/%d' % (a, b, n)
    return '%d/%d' % (a, n)


def item(r, name):
    lo, hi = RANGES[name]
    if name == 'day' and r.random() < 0.3:
        if r.random() < 0.3:
            return r.choice(['last', 'LAST'])
        return '%s %s' % (r.choice(POSITIONS), r.choice(WEEKDAYS))
    if name == 'day_of_week' and r.random() < 0.5:
        a = r.randint(0, 6)
        if r.random() < 0.5:
            return WEEKDAYS[a].capitalize()
        return '%s-%s' % (WEEKDAYS[a], WEEKDAYS[r.randint(a, 6)])
    return numeric(r, lo, hi)


def value(r, name):
    return ','.join(item(r, name) for _ in range(r.choice([1, 1, 1, 2, 3])))


class Timeout(Exception):
    pass


def alarm(signum, frame):
    raise Timeout()


def fmt(d):
    return d.strftime('%Y-%m-%d %H:%M:%S') if d else None


def main():
    signal.signal(signal.SIGALRM, alarm)
    r = random.Random(203)
    cases = []
    while len(cases) < 400:
        names = [n for n in CronTrigger.FIELD_NAMES if r.random() < 0.35]
        if not names:
            continue
        fields = dict((n, value(r, n)) for n in names)
        if r.random() < 0.1:
            fields['start_date'] = '%04d-%02d-%02d %02d:%02d:%02d' % (
                r.randint(2024, 2028), r.randint(1, 12), r.randint(1, 28),
                r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
        start = datetime(2026, 1, 1) + timedelta(
            seconds=r.randint(-3 * 365 * 86400, 3 * 365 * 86400))
        kwargs = dict(fields)
        signal.alarm(1)
        try:
            trigger = CronTrigger(**kwargs)
            nexts = []
            prev = start
            for _ in range(3):
                try:
                    prev = trigger.get_next_fire_time(
                        prev + timedelta(microseconds=1))
                except ValueError:  # year > 9999: no fire time
                    prev = None
                nexts.append(fmt(prev))
                if prev is None:
                    break
        except Timeout:
            continue
        finally:
            signal.alarm(0)
        cases.append({'fields': fields, 'after': fmt(start), 'next': nexts})
    print(json.dumps(cases, indent=1, sort_keys=True, separators=(',', ': ')))


main()
