// Command linearize checks a recorded history of Kubernetes API calls on one resource type
// for linearizability against the model in model.go, with Porcupine
// (github.com/anishathalye/porcupine). The history comes as JSON on stdin, the verdict
// goes as JSON to stdout; see README.md for both formats.
//
// Exit codes: 0 linearizable, 1 not linearizable, 2 unknown (the timeout ran out),
// 3 bad input (the reason on stderr).
//
// With --serve it reads one history per line and answers each with one line, until stdin ends.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	exitOK      = 0
	exitIllegal = 1
	exitUnknown = 2
	exitBad     = 3
)

const defaultTimeout = 10.0

type rawHistory struct {
	TimeoutSeconds *float64          `json:"timeout_seconds"`
	Visualize      *string           `json:"visualize"`
	Allow          []string          `json:"allow"`
	Operations     []json.RawMessage `json:"operations"`
}

type rawOperation struct {
	Client *int       `json:"client"`
	Call   *int64     `json:"call"`
	Return *int64     `json:"return"`
	Input  *rawInput  `json:"input"`
	Output *rawOutput `json:"output"`
}

type rawInput struct {
	Op       *string `json:"op"`
	Key      *string `json:"key"`
	Value    *string `json:"value"`
	RV       *string `json:"rv"`
	Node     *string `json:"node"`
	Grace    *int64  `json:"grace"`
	Prefix   *string `json:"prefix"`
	Selector *string `json:"selector"`
}

type rawItem struct {
	Key   *string `json:"key"`
	RV    *string `json:"rv"`
	Value *string `json:"value"`
	Node  *string `json:"node"`
	Grace *int64  `json:"grace"`
}

type rawOutput struct {
	Code  *int       `json:"code"`
	RV    *string    `json:"rv"`
	Value *string    `json:"value"`
	Node  *string    `json:"node"`
	Grace *int64     `json:"grace"`
	Items *[]rawItem `json:"items"`
}

type verdict struct {
	Result        string  `json:"result"`
	Seconds       float64 `json:"seconds"`
	Operations    int     `json:"operations"`
	Visualization *string `json:"visualization"`
	Partitions    int     `json:"partitions"`
}

// the answer codes each operation may have; 0 (unknown outcome) is allowed for all
var allowedCodes = map[opKind][]int{
	opCreate: {201, 409, 0},
	opUpdate: {200, 409, 404, 0},
	opDelete: {200, 404, 409, 0},
	opGet:    {200, 404, 0},
	opList:   {200, 0},
	opBind:   {201, 404, 409, 0},
	opMark:   {200, 404, 409, 0},
	opRemove: {200, 0},
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// graceOf reads a grace period: absent is -1 (no deletion pending / none asked).
func graceOf(field string, p *int64) (int64, error) {
	if p == nil {
		return -1, nil
	}
	if *p < 0 {
		return 0, fmt.Errorf("%s is %d; a grace period is 0 or more", field, *p)
	}
	return *p, nil
}

func decodeStrict(data []byte, v interface{}) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%s: expected %s, got %s", typeErr.Field, kindName(typeErr.Type), typeErr.Value)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}

// parseRV reads a resourceVersion: the decimal string of a positive etcd revision.
func parseRV(s string) (int64, error) {
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal resourceVersion", s)
		}
	}
	rv, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rv <= 0 {
		return 0, fmt.Errorf("%q is not a positive decimal resourceVersion", s)
	}
	return rv, nil
}

func parseOperation(data []byte) (porcupine.Operation, error) {
	var raw rawOperation
	if err := decodeStrict(data, &raw); err != nil {
		return porcupine.Operation{}, err
	}
	switch {
	case raw.Client == nil:
		return porcupine.Operation{}, errors.New("client is missing")
	case *raw.Client < 0:
		return porcupine.Operation{}, fmt.Errorf("client is %d; clients are numbered from 0", *raw.Client)
	case raw.Call == nil:
		return porcupine.Operation{}, errors.New("call is missing")
	case raw.Input == nil:
		return porcupine.Operation{}, errors.New("input is missing")
	case raw.Output == nil:
		return porcupine.Operation{}, errors.New("output is missing")
	case raw.Input.Op == nil:
		return porcupine.Operation{}, errors.New("input.op is missing")
	case raw.Output.Code == nil:
		return porcupine.Operation{}, errors.New("output.code is missing")
	}
	req, err := parseRequest(raw.Input)
	if err != nil {
		return porcupine.Operation{}, err
	}
	resp, err := parseResponse(req.kind, raw.Output)
	if err != nil {
		return porcupine.Operation{}, err
	}
	ret := int64(math.MaxInt64)
	switch {
	case raw.Return != nil:
		if *raw.Return < *raw.Call {
			return porcupine.Operation{}, fmt.Errorf("return (%d) is before call (%d)", *raw.Return, *raw.Call)
		}
		if resp.code != 0 || !req.kind.isWrite() {
			ret = *raw.Return
		}
	case resp.code != 0:
		return porcupine.Operation{}, errors.New("return is missing")
	case !req.kind.isWrite():
		return porcupine.Operation{}, errors.New("return is missing (it may be left out only for a write of unknown outcome)")
	}
	// A write of unknown outcome may take effect at any time after its call, even after
	// the client gave up: it stays open for ever.
	return porcupine.Operation{ClientId: *raw.Client, Call: *raw.Call, Return: ret, Input: req, Output: resp}, nil
}

func parseRequest(in *rawInput) (request, error) {
	var req request
	kind := -1
	for k, name := range opNames {
		if name == *in.Op {
			kind = k
		}
	}
	if kind < 0 {
		return req, fmt.Errorf("input.op is %q; expected one of %v", *in.Op, opNames)
	}
	req.kind = opKind(kind)
	var err error
	if req.grace, err = graceOf("input.grace", in.Grace); err != nil {
		return req, err
	}
	req.node, req.prefix, req.selector = str(in.Node), str(in.Prefix), str(in.Selector)
	if req.kind == opBind && req.node == "" {
		return req, errors.New("input.node is missing (a bind names its node)")
	}
	if req.kind == opList {
		return req, nil
	}
	if in.Key == nil {
		return req, fmt.Errorf("input.key is missing (a %s names its object)", req.kind)
	}
	req.key = *in.Key
	if req.kind == opCreate || req.kind == opUpdate {
		if in.Value == nil {
			return req, fmt.Errorf("input.value is missing (a %s writes one)", req.kind)
		}
		req.value = *in.Value
	}
	if req.kind == opUpdate || req.kind == opDelete || req.kind == opMark {
		if in.RV == nil {
			return req, fmt.Errorf("input.rv is missing (the %s's precondition; \"\" for none)", req.kind)
		}
		if *in.RV != "" {
			rv, err := parseRV(*in.RV)
			if err != nil {
				return req, fmt.Errorf("input.rv: %v", err)
			}
			req.precondition = rv
		}
	}
	return req, nil
}

func parseResponse(kind opKind, out *rawOutput) (response, error) {
	resp := response{code: *out.Code}
	allowed := false
	for _, c := range allowedCodes[kind] {
		allowed = allowed || c == resp.code
	}
	if !allowed {
		return resp, fmt.Errorf("output.code %d is not an answer to a %s (expected one of %v)", resp.code, kind, allowedCodes[kind])
	}
	var err error
	if resp.grace, err = graceOf("output.grace", out.Grace); err != nil {
		return resp, err
	}
	if kind == opMark && resp.code == 200 && resp.grace < 0 && out.RV == nil {
		return resp, errors.New("output.grace is missing (a mark answered 200 carries the pending grace period, " +
			"or the rv of the removal that took the pod unmarked)")
	}
	needRV := (resp.code == 201 && kind != opBind) || (resp.code == 200 && kind != opDelete && kind != opMark &&
		kind != opRemove)
	if needRV || (out.RV != nil && (kind == opMark || kind == opRemove) && resp.code == 200) {
		if out.RV == nil {
			return resp, fmt.Errorf("output.rv is missing (a %s answered %d carries one)", kind, resp.code)
		}
		rv, err := parseRV(*out.RV)
		if err != nil {
			return resp, fmt.Errorf("output.rv: %v", err)
		}
		resp.rv = rv
	}
	if kind == opGet && resp.code == 200 {
		if out.Value == nil {
			return resp, errors.New("output.value is missing (a get answered 200 carries one)")
		}
		resp.value = *out.Value
		resp.node = str(out.Node)
		resp.view.grace = resp.grace
	}
	if kind == opList && resp.code == 200 {
		if out.Items == nil {
			return resp, errors.New("output.items is missing (a list answered 200 carries them)")
		}
		seen := map[string]bool{}
		for i, it := range *out.Items {
			if it.Key == nil || it.RV == nil || it.Value == nil {
				return resp, fmt.Errorf("output.items[%d] needs key, rv and value", i)
			}
			if seen[*it.Key] {
				return resp, fmt.Errorf("output.items[%d]: key %q appears twice", i, *it.Key)
			}
			seen[*it.Key] = true
			rv, err := parseRV(*it.RV)
			if err != nil {
				return resp, fmt.Errorf("output.items[%d].rv: %v", i, err)
			}
			grace, err := graceOf(fmt.Sprintf("output.items[%d].grace", i), it.Grace)
			if err != nil {
				return resp, err
			}
			resp.items = append(resp.items, listItem{key: *it.Key, rv: rv, view: view{*it.Value, str(it.Node), grace}})
		}
		sort.Slice(resp.items, func(i, j int) bool { return resp.items[i].key < resp.items[j].key })
	}
	return resp, nil
}

type badInput struct{ error }

// allowed reads the names of release behaviours a history allows (model.go: behaviours).
func allowed(names []string) (behaviours, error) {
	var b behaviours
	for _, n := range names {
		switch n {
		case "pod-grace-as-first-read":
			b.podGraceAsFirstRead = true
		case "mark-answers-own-read":
			b.markAnswersOwnRead = true
		case "remove-unmarked":
			b.removeUnmarked = true
		default:
			return b, fmt.Errorf("history: allow names %q; known: pod-grace-as-first-read, mark-answers-own-read, "+
				"remove-unmarked", n)
		}
	}
	return b, nil
}

func readHistory(r io.Reader) (history []porcupine.Operation, timeout time.Duration, visualize *string, allow behaviours, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, nil, allow, badInput{fmt.Errorf("reading stdin: %v", err)}
	}
	return parseHistory(data)
}

func parseHistory(data []byte) (history []porcupine.Operation, timeout time.Duration, visualize *string, allow behaviours, err error) {
	var raw rawHistory
	if err := decodeStrict(data, &raw); err != nil {
		return nil, 0, nil, allow, badInput{fmt.Errorf("history: %v", err)}
	}
	if raw.Operations == nil {
		return nil, 0, nil, allow, badInput{errors.New("history: operations is missing")}
	}
	seconds := defaultTimeout
	if raw.TimeoutSeconds != nil {
		seconds = *raw.TimeoutSeconds
	}
	if seconds < 0 || math.IsNaN(seconds) || seconds > 1e9 {
		return nil, 0, nil, allow, badInput{fmt.Errorf("history: timeout_seconds is %v; expected 0 (no limit) or more", seconds)}
	}
	if raw.Visualize != nil && *raw.Visualize == "" {
		return nil, 0, nil, allow, badInput{errors.New("history: visualize is an empty path; use null for none")}
	}
	history = make([]porcupine.Operation, 0, len(raw.Operations))
	for i, data := range raw.Operations {
		op, err := parseOperation(data)
		if err != nil {
			return nil, 0, nil, allow, badInput{fmt.Errorf("operation %d: %v", i, err)}
		}
		history = append(history, op)
	}
	if allow, err = allowed(raw.Allow); err != nil {
		return nil, 0, nil, allow, badInput{err}
	}
	return history, time.Duration(seconds * float64(time.Second)), raw.Visualize, allow, nil
}

func run(stdin io.Reader, stdout, stderr io.Writer) int {
	history, timeout, visualize, allow, err := readHistory(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "linearize: bad input: %v\n", err)
		return exitBad
	}
	v, code, err := checkHistory(history, timeout, visualize, allow)
	if err != nil {
		fmt.Fprintf(stderr, "linearize: bad input: %v\n", err)
		return exitBad
	}
	out, _ := json.Marshal(v)
	fmt.Fprintln(stdout, string(out))
	return code
}

// serveLine is one answer of serve: a verdict, or why the history could not be read.
type serveLine struct {
	*verdict
	BadInput string `json:"bad_input,omitempty"`
}

// serve checks one history per line of stdin (the same JSON as the one-shot mode, on one line) and
// answers each with one line of JSON on stdout, until stdin ends: a caller that checks many small
// histories pays for one process start instead of one per history.
func serve(stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReaderSize(stdin, 1<<20)
	out := bufio.NewWriter(stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			answer := serveLine{}
			history, timeout, visualize, allow, perr := parseHistory(line)
			if perr == nil {
				var v verdict
				v, _, perr = checkHistory(history, timeout, visualize, allow)
				answer.verdict = &v
			}
			if perr != nil {
				answer = serveLine{BadInput: perr.Error()}
			}
			data, _ := json.Marshal(answer)
			out.Write(data)
			out.WriteByte('\n')
			if ferr := out.Flush(); ferr != nil {
				return exitBad
			}
		}
		if err != nil {
			return exitOK
		}
	}
}

func checkHistory(history []porcupine.Operation, timeout time.Duration, visualize *string, allow behaviours) (verdict, int, error) {
	// With no list, each key is checked alone (much faster); a list reads every key at
	// once, so then the whole history is one partition.
	partition := true
	for _, op := range history {
		if op.Input.(request).kind == opList {
			partition = false
		}
	}
	model := newModel(partition, allow)
	partitions := 0
	if partition {
		partitions = len(partitionByKey(history))
	} else if len(history) > 0 {
		partitions = 1
	}

	start := time.Now()
	var result porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if visualize != nil {
		result, info = porcupine.CheckOperationsVerbose(model, history, timeout)
	} else {
		// the verbose check keeps partial linearizations and, on an illegal partition,
		// still checks the others to the end: only worth it for a visualization
		result = porcupine.CheckOperationsTimeout(model, history, timeout)
	}
	seconds := time.Since(start).Seconds()

	if visualize != nil {
		if err := porcupine.VisualizePath(model, info, *visualize); err != nil {
			return verdict{}, exitBad, fmt.Errorf("visualize: %v", err)
		}
	}
	v := verdict{Seconds: seconds, Operations: len(history), Visualization: visualize, Partitions: partitions}
	code := exitOK
	switch result {
	case porcupine.Ok:
		v.Result = "ok"
	case porcupine.Illegal:
		v.Result, code = "illegal", exitIllegal
	default:
		v.Result, code = "unknown", exitUnknown
	}
	return v, code, nil
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--serve" {
		os.Exit(serve(os.Stdin, os.Stdout))
	}
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}
