// argocd-lua-health runs an Argo CD resource health check the way Argo CD runs it: gopher-lua, the object decoded
// into Lua tables by gopher-json, the libraries Argo CD opens (package, base, table, string, math), and the returned
// table encoded back to JSON. Used by the operator's ArgoCdHealthCheckTest.
//
// Usage: argocd-lua-health <health.lua> < object.json   prints {"status": ..., "message": ...}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	luajson "layeh.com/gopher-json"
	lua "github.com/yuin/gopher-lua"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua-health <health.lua> < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(input, &obj); err != nil {
		fail(fmt.Errorf("the object is not JSON: %w", err))
	}

	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", luajson.DecodeValue(l, obj))
	if err := l.DoString(string(script)); err != nil {
		fail(err)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		fail(fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type()))
	}
	out, err := luajson.Encode(table)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "argocd-lua-health:", err)
	os.Exit(1)
}
