package definition

import (
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// method implements a method of a framework class; self is the receiver.
type method func(ev *evaluator, self *object, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

// class describes one of the framework's Python classes.
type class struct {
	name string
	// known attributes; assigning any other one is allowed (as in Python)
	// but warned about, since the framework would ignore it. nil: all known.
	known   []string
	methods map[string]method
	// onSet runs before an attribute is stored, for the side effects the
	// original classes had (e.g. Cluster.network sets defaultHost.net).
	onSet func(self *object, name string, v starlark.Value) error
	// derived computes an attribute that was never stored (e.g. bridgeName).
	derived func(self *object, name string) starlark.Value
}

// object is an instance of a framework class. Like a Python object it is a
// mutable reference: every variable bound to it sees every change.
type object struct {
	cls   *class
	ev    *evaluator
	id    uint64
	line  int // where it was constructed
	attrs map[string]starlark.Value
	// setAt holds, per attribute, the line of the assignment (or of the
	// constructor call) that gave it its value; absent: a framework default.
	setAt    map[string]int
	frozen   bool
	warned   map[string]bool
	netHosts []*object // Network only: hosts registered for DHCP and DNS
	owner    *object   // Network only: the cluster it was made the network of
}

var (
	_ starlark.HasAttrs    = (*object)(nil)
	_ starlark.HasSetField = (*object)(nil)
)

func (ev *evaluator) newObject(cls *class) *object {
	ev.nextID++
	return &object{cls: cls, ev: ev, id: ev.nextID, line: ev.line(),
		attrs: map[string]starlark.Value{}, setAt: map[string]int{}, warned: map[string]bool{}}
}

func (o *object) String() string {
	if n, ok := o.attrs["name"].(starlark.String); ok && n != "" {
		return fmt.Sprintf("<%s %s>", o.cls.name, string(n))
	}
	return fmt.Sprintf("<%s>", o.cls.name)
}

func (o *object) Type() string         { return o.cls.name }
func (o *object) Truth() starlark.Bool { return true }

// Hash follows Python's default: identity.
func (o *object) Hash() (uint32, error) { return uint32(o.id ^ o.id>>32), nil }

func (o *object) Freeze() {
	if o.frozen {
		return
	}
	o.frozen = true
	for _, v := range o.attrs {
		v.Freeze()
	}
}

func (o *object) Attr(name string) (starlark.Value, error) {
	if m, ok := o.cls.methods[name]; ok {
		return starlark.NewBuiltin(o.cls.name+"."+name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return m(o.ev, o, args, kwargs)
		}), nil
	}
	if v, ok := o.attrs[name]; ok {
		return v, nil
	}
	if o.cls.derived != nil {
		if v := o.cls.derived(o, name); v != nil {
			return v, nil
		}
	}
	return nil, nil // starlark reports: <Class> has no .name field or method
}

func (o *object) AttrNames() []string {
	names := make([]string, 0, len(o.attrs)+len(o.cls.methods))
	for n := range o.attrs {
		names = append(names, n)
	}
	for n := range o.cls.methods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (o *object) SetField(name string, v starlark.Value) error {
	if o.frozen {
		return fmt.Errorf("cannot set %s.%s: object is frozen", o.cls.name, name)
	}
	if _, isMethod := o.cls.methods[name]; isMethod {
		return fmt.Errorf("cannot assign to method %s.%s", o.cls.name, name)
	}
	if o.cls.onSet != nil {
		if err := o.cls.onSet(o, name, v); err != nil {
			return err
		}
	}
	line := o.ev.line()
	o.attrs[name] = v
	o.setAt[name] = line
	if o.cls.known != nil && !slices.Contains(o.cls.known, name) && !o.warned[name] {
		o.warned[name] = true
		o.ev.rep.warnf(line, "unknown attribute %s.%s assigned: the framework does not use it", o.cls.name, name)
	}
	return nil
}

// set stores a value the way a constructor or the framework does: the
// value counts as given (explicit) at line.
func (o *object) set(name string, v starlark.Value, line int) {
	o.attrs[name] = v
	o.setAt[name] = line
}

// setDefault stores a framework default, not counted as given.
func (o *object) setDefault(name string, v starlark.Value) {
	o.attrs[name] = v
	delete(o.setAt, name)
}

// explicit reports whether the definition gave the attribute a value.
func (o *object) explicit(name string) bool {
	_, ok := o.setAt[name]
	return ok
}

// lineOf is the line that gave the attribute its value, or the line the
// object was built on.
func (o *object) lineOf(name string) int {
	if l, ok := o.setAt[name]; ok && l > 0 {
		return l
	}
	return o.line
}

// get returns an attribute, derived ones included, or nil.
func (o *object) get(name string) starlark.Value {
	v, _ := o.Attr(name)
	if _, isMethod := o.cls.methods[name]; isMethod {
		return nil
	}
	return v
}

// getString returns a string attribute, "" when unset or None.
func (o *object) getString(name string) string {
	s, _ := starlark.AsString(o.get(name))
	return s
}

// asObject returns v as an instance of cls, or nil.
func asObject(v starlark.Value, cls *class) *object {
	if o, ok := v.(*object); ok && o.cls == cls {
		return o
	}
	return nil
}

// describe renders a value for error messages: its repr, shortened.
func describe(v starlark.Value) string {
	if v == nil {
		return "nothing"
	}
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}
