package pyeval

import (
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// method implements a method of a framework class; self is the receiver.
type method func(ev *evaluator, self *Object, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

// Class describes one of the framework's Python classes.
type Class struct {
	name string
	// known attributes; assigning any other one is allowed (as in Python)
	// but warned about, since the framework would ignore it. nil: all known.
	known   []string
	methods map[string]method
	// onSet runs before an attribute is stored, for the side effects the
	// original classes had (e.g. Cluster.network sets defaultHost.net).
	onSet func(self *Object, name string, v starlark.Value) error
	// derived computes an attribute that was never stored (e.g. bridgeName).
	derived func(self *Object, name string) starlark.Value
}

// Object is an instance of a framework class. Like a Python object it is a
// mutable reference: every variable bound to it sees every change.
type Object struct {
	cls   *Class
	ev    *evaluator
	id    uint64
	line  int // where it was constructed
	attrs map[string]starlark.Value
	// setAt holds, per attribute, the line of the assignment (or of the
	// constructor call) that gave it its value; absent: a framework default.
	setAt    map[string]int
	frozen   bool
	warned   map[string]bool
	netHosts []*Object // Network only: hosts registered for DHCP and DNS
	owner    *Object   // Network only: the cluster it was made the network of
}

var (
	_ starlark.HasAttrs    = (*Object)(nil)
	_ starlark.HasSetField = (*Object)(nil)
)

func (ev *evaluator) newObject(cls *Class) *Object {
	ev.nextID++
	return &Object{cls: cls, ev: ev, id: ev.nextID, line: ev.line(),
		attrs: map[string]starlark.Value{}, setAt: map[string]int{}, warned: map[string]bool{}}
}

func (o *Object) String() string {
	if n, ok := o.attrs["name"].(starlark.String); ok && n != "" {
		return fmt.Sprintf("<%s %s>", o.cls.name, string(n))
	}
	return fmt.Sprintf("<%s>", o.cls.name)
}

// Name is the class's name as definitions spell it: "Host".
func (c *Class) Name() string { return c.name }

// Class is the object's class.
func (o *Object) Class() *Class { return o.cls }

// Line is where the object was constructed.
func (o *Object) Line() int { return o.line }

// NetHosts are the hosts registered with a Network for DHCP and DNS
// (addHost, addHosts...), in order; nil for the other classes.
func (o *Object) NetHosts() []*Object { return o.netHosts }

func (o *Object) Type() string         { return o.cls.name }
func (o *Object) Truth() starlark.Bool { return true }

// Hash follows Python's default: identity.
func (o *Object) Hash() (uint32, error) { return uint32(o.id ^ o.id>>32), nil }

func (o *Object) Freeze() {
	if o.frozen {
		return
	}
	o.frozen = true
	for _, v := range o.attrs {
		v.Freeze()
	}
}

func (o *Object) Attr(name string) (starlark.Value, error) {
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

func (o *Object) AttrNames() []string {
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

func (o *Object) SetField(name string, v starlark.Value) error {
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
		o.ev.rep.Warnf(line, "unknown attribute %s.%s assigned: the framework does not use it", o.cls.name, name)
	}
	return nil
}

// set stores a value the way a constructor or the framework does: the
// value counts as given (explicit) at line.
func (o *Object) set(name string, v starlark.Value, line int) {
	o.attrs[name] = v
	o.setAt[name] = line
}

// setGiven stores a constructor's arguments, given at the object's line.
func (o *Object) setGiven(given map[string]starlark.Value) {
	for k, v := range given {
		o.set(k, v, o.line)
	}
}

// setDefault stores a framework default, not counted as given.
func (o *Object) setDefault(name string, v starlark.Value) {
	o.attrs[name] = v
	delete(o.setAt, name)
}

// Explicit reports whether the definition gave the attribute a value.
func (o *Object) Explicit(name string) bool {
	_, ok := o.setAt[name]
	return ok
}

// LineOf is the line that gave the attribute its value, or the line the
// object was built on.
func (o *Object) LineOf(name string) int {
	if l, ok := o.setAt[name]; ok && l > 0 {
		return l
	}
	return o.line
}

// Get returns an attribute, derived ones included, or nil.
func (o *Object) Get(name string) starlark.Value {
	v, _ := o.Attr(name)
	if _, isMethod := o.cls.methods[name]; isMethod {
		return nil
	}
	return v
}

// GetString returns a string attribute, "" when unset or None.
func (o *Object) GetString(name string) string {
	s, _ := starlark.AsString(o.Get(name))
	return s
}

// AsObject returns v as an instance of cls, or nil.
func AsObject(v starlark.Value, cls *Class) *Object {
	if o, ok := v.(*Object); ok && o.cls == cls {
		return o
	}
	return nil
}

// Describe renders a value for error messages: its repr, shortened.
func Describe(v starlark.Value) string {
	if v == nil {
		return "nothing"
	}
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}
