package main

// The sequential specification of one Kubernetes resource type as clients see it through
// the API server: create, update and delete (each with an optional resourceVersion
// precondition), get and consistent list. resourceVersions are etcd revisions: one
// counter for the whole store, increasing in commit order, so a write linearized after
// another carries a larger revision (apiserver/pkg/storage/etcd3/store.go: GuaranteedUpdate,
// Create).
//
// The model is nondeterministic only where a call's outcome is unknown (code 0: the client
// gave up); the checker turns it into a deterministic one over sets of states
// (porcupine.NondeterministicModel.ToModel).

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

type opKind int

const (
	opCreate opKind = iota
	opUpdate
	opDelete
	opGet
	opList
	opBind
	opMark
	opRemove
)

var opNames = [...]string{opCreate: "create", opUpdate: "update", opDelete: "delete", opGet: "get", opList: "list",
	opBind: "bind", opMark: "mark", opRemove: "remove"}

func (k opKind) String() string { return opNames[k] }

func (k opKind) isWrite() bool { return k != opGet && k != opList }

// behaviours a release has where it departs from the API's contract, allowed only when a
// history names them (to tell a known finding from a new one; see conformance/findings.py)
type behaviours struct {
	// podGraceAsFirstRead: kube-apiserver decides a pod delete's grace period on the pod as
	// the delete first read it and writes it into the request's DeleteOptions
	// (pkg/registry/core/pod/strategy.go: CheckGracefulDelete), then applies it to the pod
	// as stored at the write (store.go: Delete, updateForGracefulDeletionAndFinalizers): a
	// pod bound while the delete ran is removed at once, with grace 0.
	podGraceAsFirstRead bool
	// markAnswersOwnRead: a pod delete that finds the pod's deletion made pending by another
	// delete since it read the pod answers the copy it marked in memory, at the revision
	// it read (store.go: Delete, updateForGracefulDeletionAndFinalizers returns
	// errAlreadyDeleting, then finalizeDelete of the object read first), not the pod as
	// stored. Only the revision the pod had just before its deletion was made pending is
	// recognised (object.markedFrom): a read older than that, with writes in between, is not.
	markAnswersOwnRead bool
	// removeUnmarked: a pod delete that decided on immediate removal (the pod it read was
	// unbound, or already marked with grace 0) removes whatever is stored under the key at
	// its second write, with only the request's preconditions (store.go: Delete, then
	// Storage.Delete): a pod created again under the name in between, bound or not, is
	// removed without ever being marked, and the answer is that pod at the delete's
	// revision. A mark answered 200 without a pending grace period is such a removal.
	removeUnmarked bool
}

// podDefaultGrace is the grace period of a pod whose spec does not set one
// (pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec, TerminationGracePeriodSeconds).
const podDefaultGrace = 30

// request is an operation's input once checked.
type request struct {
	kind         opKind
	key          string
	value        string
	precondition int64  // 0: unconditional
	node         string // bind: the target node; create: the node of an object in the initial state
	grace        int64  // mark: the grace period asked, -1 for none; create: the initial state's, -1 for none
	prefix       string // list: only keys with this prefix
	selector     string // list: only objects whose value is in this group ("a" selects values "a.…")
}

// view is what a read shows of one object besides its revision: its value, the node it
// is bound to, and its pending deletion (grace < 0: none).
type view struct {
	value string
	node  string
	grace int64
}

type listItem struct {
	key string
	rv  int64
	view
}

// response is an operation's output once checked; code 0 means the outcome is unknown.
type response struct {
	code  int
	rv    int64 // 0 where the answer carries none (a mark of an object deleted at once)
	grace int64 // mark: the grace period of the deletion now pending
	view
	items []listItem // sorted by key
}

const unbounded = math.MaxInt64

// object is one stored object. A write whose outcome is unknown may have taken effect at
// a revision nobody saw: rv is then 0 and the revision is only known to lie strictly
// between lo and hi. lo is the highest revision committed before the write; hi shrinks to
// each revision committed after it. The first read that shows the object fixes rv.
type object struct {
	view
	rv     int64
	lo, hi int64
	// markedFrom: the revision the object had just before its deletion was made pending (0:
	// not being deleted, or that revision is not known)
	markedFrom int64
}

func (o object) known() bool { return o.rv != 0 }

// state is immutable once built: a step copies what it changes.
type state struct {
	objects map[string]object
	maxRV   int64 // the highest revision known to be committed
}

func (s *state) clone() *state {
	objects := make(map[string]object, len(s.objects)+1)
	for k, v := range s.objects {
		objects[k] = v
	}
	return &state{objects: objects, maxRV: s.maxRV}
}

// commit checks that a write with revision rv may be linearized now and returns the
// state with the revision recorded: above every committed revision, and above the hidden
// revision of every write of unknown outcome already in the state.
func (s *state) commit(rv int64) (*state, bool) {
	if rv <= s.maxRV {
		return nil, false
	}
	next := s.clone()
	next.maxRV = rv
	for k, o := range next.objects {
		if !o.known() && o.hi > rv {
			o.hi = rv
			if o.hi-o.lo < 2 { // no integer revision left strictly between lo and hi
				return nil, false
			}
			next.objects[k] = o
		}
	}
	return next, true
}

// learn fixes the hidden revision of key's object to rv, if rv is possible for it.
func (s *state) learn(key string, rv int64) (*state, bool) {
	o := s.objects[key]
	if o.known() {
		return s, o.rv == rv
	}
	if rv <= o.lo || rv >= o.hi {
		return nil, false
	}
	next := s.clone()
	o.rv, o.lo, o.hi = rv, 0, 0
	next.objects[key] = o
	if rv > next.maxRV {
		next.maxRV = rv
	}
	return next, true
}

// matches: whether a precondition can hold for key's object, and the state in which it
// does (a hidden revision that a matching precondition names becomes known).
func (s *state) matches(key string, precondition int64) (*state, bool) {
	if precondition == 0 {
		return s, true
	}
	return s.learn(key, precondition)
}

// mayMismatch: whether a precondition can fail for key's object. A hidden revision may
// differ from any precondition; that the two differ is not recorded.
func (s *state) mayMismatch(key string, precondition int64) bool {
	if precondition == 0 {
		return false
	}
	o := s.objects[key]
	return !o.known() || o.rv != precondition
}

func (s *state) put(key string, o object) *state {
	next := s.clone()
	next.objects[key] = o
	return next
}

func (s *state) remove(key string) *state {
	next := s.clone()
	delete(next.objects, key)
	return next
}

// hidden is the object a write leaves behind when its revision is not known: a write of
// unknown outcome, if it took effect, or one whose answer carries no revision (a binding).
func (s *state) hidden(v view, after int64) object {
	lo := s.maxRV
	if after > lo {
		lo = after
	}
	return object{view: v, lo: lo, hi: unbounded}
}

// written records a write of o's new view: at revision rv, or at a hidden one when rv is 0.
// The revision before a pending deletion is kept (markedFrom), and set when this write makes
// one pending.
func (s *state) written(key string, o object, v view, rv int64) (*state, bool) {
	markedFrom := o.markedFrom
	if o.grace < 0 && v.grace >= 0 {
		markedFrom = o.rv
	}
	if rv == 0 {
		h := s.hidden(v, o.lo+1)
		h.markedFrom = markedFrom
		return s.put(key, h), true
	}
	next, ok := s.commit(rv)
	if !ok {
		return nil, false
	}
	return next.put(key, object{view: v, rv: rv, markedFrom: markedFrom}), true
}

// deletion is the view a delete of o leaves pending, or false when it changes nothing
// (apiserver/pkg/registry/rest/delete.go: BeforeDelete; pkg/registry/core/pod/strategy.go:
// CheckGracefulDelete gives an unscheduled pod 0; a pending deletion only ever shortens).
func deletion(o object, asked int64) (view, bool) {
	v := o.view
	switch {
	case o.grace < 0 && asked >= 0:
		v.grace = asked
	case o.grace < 0 && o.node == "":
		v.grace = 0
	case o.grace < 0:
		v.grace = podDefaultGrace
	case asked >= 0 && asked < o.grace:
		v.grace = asked
	default:
		return v, false
	}
	return v, true
}

func (s *state) selects(key string, o object, req request) bool {
	return strings.HasPrefix(key, req.prefix) && (req.selector == "" || strings.HasPrefix(o.value, req.selector+"."))
}

func one(s *state, ok bool) []interface{} {
	if !ok {
		return nil
	}
	return []interface{}{s}
}

func step(s *state, req request, resp response, allow behaviours) []interface{} {
	o, present := s.objects[req.key]
	switch req.kind {
	case opCreate:
		switch resp.code {
		case 201:
			if present {
				return nil
			}
			next, ok := s.commit(resp.rv)
			if !ok {
				return nil
			}
			return one(next.put(req.key, object{view: view{req.value, req.node, req.grace}, rv: resp.rv}), true)
		case 409:
			return one(s, present)
		case 0:
			if present {
				return one(s, true)
			}
			return []interface{}{s, s.put(req.key, s.hidden(view{req.value, req.node, req.grace}, 0))}
		}
	case opUpdate:
		switch resp.code {
		case 404:
			return one(s, !present)
		case 409:
			return one(s, present && s.mayMismatch(req.key, req.precondition))
		case 200:
			if !present {
				return nil
			}
			base, ok := s.matches(req.key, req.precondition)
			if !ok {
				return nil
			}
			if resp.grace == 0 || o.grace == 0 {
				// the pod's deletion is pending with grace 0, between the two writes of its delete:
				// an update that meets it removes it instead of writing (apiserver/pkg/registry/
				// generic/registry/store.go: Update, ShouldDeleteDuringUpdate, then
				// deleteWithoutFinalizers) and is answered 200 with the object as updated, marked,
				// at the revision it was checked against. The removal is recorded as a remove of
				// its own (a delete that removed the pod first makes it a no-op: the NotFound is
				// ignored there), so here the update only reads the marked pod.
				if resp.grace != 0 || o.grace != 0 {
					return nil
				}
				return one(base.learn(req.key, resp.rv))
			}
			var outcomes []interface{}
			// a no-op update (same content) keeps the revision and writes nothing
			if req.value == o.value {
				if noop, ok := base.learn(req.key, resp.rv); ok {
					outcomes = append(outcomes, noop)
				}
			}
			if next, ok := base.written(req.key, o, view{req.value, o.node, o.grace}, resp.rv); ok {
				outcomes = append(outcomes, next)
			}
			return outcomes
		case 0:
			outcomes := []interface{}{s}
			if present {
				if base, ok := s.matches(req.key, req.precondition); ok && o.grace == 0 {
					outcomes = append(outcomes, base.remove(req.key))
				} else if ok {
					next, _ := base.written(req.key, o, view{req.value, o.node, o.grace}, 0)
					outcomes = append(outcomes, next)
				}
			}
			return outcomes
		}
	case opDelete:
		switch resp.code {
		case 404:
			return one(s, !present)
		case 409:
			return one(s, present && s.mayMismatch(req.key, req.precondition))
		case 200:
			if !present {
				return nil
			}
			// a delete commits a revision too, but the answer does not say which: it
			// does not raise maxRV
			// a precondition no revision the object may have satisfies: this delete cannot be linearized
			// here (matches returns no state then)
			base, ok := s.matches(req.key, req.precondition)
			if !ok {
				return nil
			}
			return one(base.remove(req.key), true)
		case 0:
			outcomes := []interface{}{s}
			if present {
				if base, ok := s.matches(req.key, req.precondition); ok {
					outcomes = append(outcomes, base.remove(req.key))
				}
			}
			return outcomes
		}
	case opGet:
		switch resp.code {
		case 404:
			return one(s, !present)
		case 200:
			if !present || o.view != resp.view {
				return nil
			}
			return one(s.learn(req.key, resp.rv))
		case 0:
			return one(s, true)
		}
	case opList:
		switch resp.code {
		case 200:
			selected := 0
			for k, o := range s.objects {
				if s.selects(k, o, req) {
					selected++
				}
			}
			if len(resp.items) != selected {
				return nil
			}
			next := s
			for _, it := range resp.items {
				o, present := next.objects[it.key]
				if !present || !s.selects(it.key, o, req) || o.view != it.view || it.rv > resp.rv {
					return nil
				}
				var ok bool
				if next, ok = next.learn(it.key, it.rv); !ok {
					return nil
				}
			}
			// a consistent list reads at a revision no older than any committed write;
			// other resources' writes may make it newer
			if resp.rv < next.maxRV {
				return nil
			}
			if resp.rv > next.maxRV {
				next = next.clone()
				next.maxRV = resp.rv
			}
			return one(next, true)
		case 0:
			return one(s, true)
		}
	case opBind:
		// pkg/registry/core/pod/storage/storage.go: setPodNodeAndMetadata refuses a pod being
		// deleted or already bound; the 201 Status carries no revision
		bindable := present && o.node == "" && o.grace < 0
		bound := view{o.value, req.node, o.grace}
		switch resp.code {
		case 404:
			return one(s, !present)
		case 409:
			return one(s, present && !bindable)
		case 201:
			if !bindable {
				return nil
			}
			return one(s.written(req.key, o, bound, 0))
		case 0:
			if !bindable {
				return one(s, true)
			}
			next, _ := s.written(req.key, o, bound, 0)
			return []interface{}{s, next}
		}
	case opMark:
		// the first write of a pod's delete: its deletion made pending (apiserver/pkg/registry/
		// generic/registry/store.go: updateForGracefulDeletionAndFinalizers)
		switch resp.code {
		case 404:
			return one(s, !present)
		case 409:
			return one(s, present && s.mayMismatch(req.key, req.precondition))
		case 200:
			if !present {
				return nil
			}
			base, ok := s.matches(req.key, req.precondition)
			if !ok {
				return nil
			}
			if resp.grace < 0 {
				// answered with the pod unmarked: it was removed without its deletion made pending
				if !allow.removeUnmarked {
					return nil
				}
				next, ok := base.commit(resp.rv)
				if !ok {
					return nil
				}
				return one(next.remove(req.key), true)
			}
			v, changes := deletion(o, req.grace)
			if !changes && allow.markAnswersOwnRead && o.grace >= 0 && o.markedFrom != 0 && resp.rv == o.markedFrom {
				// the copy this delete read before another delete marked the pod, marked in memory
				read := o.view
				read.grace = -1
				if first, _ := deletion(object{view: read}, req.grace); first.grace == resp.grace {
					return one(base, true)
				}
			}
			if v.grace != resp.grace && allow.podGraceAsFirstRead && o.grace < 0 && req.grace < 0 && resp.grace == 0 {
				v.grace = 0 // decided on the pod as it was before its binding
			}
			if v.grace != resp.grace {
				return nil
			}
			if !changes {
				if resp.rv == 0 {
					return one(base, true)
				}
				return one(base.learn(req.key, resp.rv))
			}
			return one(base.written(req.key, base.objects[req.key], v, resp.rv))
		case 0:
			outcomes := []interface{}{s}
			if present {
				if base, ok := s.matches(req.key, req.precondition); ok {
					if v, changes := deletion(o, req.grace); changes {
						next, _ := base.written(req.key, base.objects[req.key], v, 0)
						outcomes = append(outcomes, next)
					}
				}
			}
			return outcomes
		}
	case opRemove:
		// the second write of a pod's delete, once nothing holds it (grace 0): the answer is
		// the object at the delete's revision (apiserver/pkg/storage/etcd3/store.go: Delete)
		removable := present && o.grace == 0
		switch resp.code {
		case 200:
			if resp.rv == 0 {
				// answered without a resourceVersion: two deletes of the pod raced, the other
				// removed it first, and this one answers the state it last read (store.go:
				// Delete, ignoreNotFound with lastExisting); the pod is gone either way
				if !present {
					return one(s, true)
				}
				if !removable {
					return nil
				}
				return one(s.remove(req.key), true)
			}
			if !removable {
				return nil
			}
			next, ok := s.commit(resp.rv)
			if !ok {
				return nil
			}
			return one(next.remove(req.key), true)
		case 0:
			if !removable {
				return one(s, true)
			}
			return []interface{}{s, s.remove(req.key)}
		}
	}
	return nil
}

func equalStates(a, b interface{}) bool {
	x, y := a.(*state), b.(*state)
	if x.maxRV != y.maxRV || len(x.objects) != len(y.objects) {
		return false
	}
	for k, o := range x.objects {
		if p, ok := y.objects[k]; !ok || p != o {
			return false
		}
	}
	return true
}

func hashState(a interface{}) uint64 {
	s := a.(*state)
	h := uint64(s.maxRV) * 0x9e3779b97f4a7c15
	var buf []byte
	for k, o := range s.objects {
		buf = append(buf[:0], k...)
		buf = append(append(buf, 0), o.value...)
		buf = append(append(buf, 0), o.node...)
		buf = strconv.AppendInt(append(buf, 0), o.grace, 10)
		buf = strconv.AppendInt(append(buf, 0), o.rv, 10)
		buf = strconv.AppendInt(append(buf, 0), o.lo, 10)
		buf = strconv.AppendInt(append(buf, 0), o.hi, 10)
		f := fnv.New64a()
		f.Write(buf)
		h ^= f.Sum64() // order-independent: the objects are a set
	}
	return h
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12] + "…"
	}
	return v
}

func rvText(rv int64) string {
	if rv == unbounded {
		return "∞"
	}
	return fmt.Sprint(rv)
}

func describeState(a interface{}) string {
	s := a.(*state)
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for i, k := range keys {
		if i == 20 {
			parts = append(parts, fmt.Sprintf("… %d more", len(keys)-i))
			break
		}
		o := s.objects[k]
		rv := fmt.Sprint(o.rv)
		if !o.known() {
			rv = fmt.Sprintf("?(%d,%s)", o.lo, rvText(o.hi))
		}
		extra := ""
		if o.node != "" {
			extra += " on " + o.node
		}
		if o.grace >= 0 {
			extra += fmt.Sprintf(" deleting (grace %d)", o.grace)
		}
		parts = append(parts, fmt.Sprintf("%s=%s%s@%s", k, short(o.value), extra, rv))
	}
	return fmt.Sprintf("{%s} maxRV %d", strings.Join(parts, ", "), s.maxRV)
}

func describeOperation(in, out interface{}) string {
	req, resp := in.(request), out.(response)
	var b strings.Builder
	b.WriteString(req.kind.String())
	if req.kind != opList {
		b.WriteString(" " + req.key)
	}
	if req.kind == opCreate || req.kind == opUpdate {
		b.WriteString(" = " + short(req.value))
	}
	if req.kind == opBind {
		b.WriteString(" to " + req.node)
	}
	if req.kind == opMark && req.grace >= 0 {
		fmt.Fprintf(&b, " (grace %d)", req.grace)
	}
	if req.kind == opList && (req.prefix != "" || req.selector != "") {
		fmt.Fprintf(&b, " %s*", req.prefix)
		if req.selector != "" {
			b.WriteString(" in group " + req.selector)
		}
	}
	if req.precondition != 0 {
		fmt.Fprintf(&b, " (rv %d)", req.precondition)
	}
	switch {
	case resp.code == 0:
		b.WriteString(" -> unknown outcome")
	case req.kind == opList:
		fmt.Fprintf(&b, " -> %d rv %d, %d item", resp.code, resp.rv, len(resp.items))
		if len(resp.items) != 1 {
			b.WriteString("s")
		}
	case req.kind == opGet && resp.code == 200:
		fmt.Fprintf(&b, " -> 200 rv %d = %s", resp.rv, short(resp.value))
	case req.kind == opMark && resp.code == 200 && resp.grace < 0:
		fmt.Fprintf(&b, " -> 200 unmarked, removed rv %d", resp.rv)
	case req.kind == opMark && resp.code == 200:
		fmt.Fprintf(&b, " -> 200 grace %d", resp.grace)
		if resp.rv != 0 {
			fmt.Fprintf(&b, " rv %d", resp.rv)
		}
	case req.kind == opRemove && resp.code == 200:
		fmt.Fprintf(&b, " -> 200 rv %d", resp.rv)
	case resp.code == 201 || (resp.code == 200 && req.kind == opUpdate):
		fmt.Fprintf(&b, " -> %d rv %d", resp.code, resp.rv)
	default:
		fmt.Fprintf(&b, " -> %d", resp.code)
	}
	return b.String()
}

// partitionByKey splits a history with no list into one history per key. Each key is
// then checked alone, so the order of revisions across keys is not checked.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var out [][]porcupine.Operation
	for _, op := range history {
		key := op.Input.(request).key
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], op)
	}
	return out
}

func newModel(partition bool, allow behaviours) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{&state{objects: map[string]object{}}} },
		Step: func(s, in, out interface{}) []interface{} {
			return step(s.(*state), in.(request), out.(response), allow)
		},
		Equal:             equalStates,
		Hash:              hashState,
		DescribeOperation: describeOperation,
		DescribeState:     describeState,
	}
	if partition {
		nm.Partition = partitionByKey
	}
	return nm.ToModel()
}
