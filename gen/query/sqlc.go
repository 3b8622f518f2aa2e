package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sqlc-dev/sqlc/pkg/cli"
)

// sqlc runs in a child process: the program running shardgen re-executes
// itself (os.Executable) with childEnv set, and this package's init hands
// the process to sqlc's command line. sqlc's CLI (pkg/cli) prints its
// diagnostics to the process's stderr and may exit, so running it in the
// generator's own process would mean redirecting os.Stderr under
// everything else; a child keeps its output separate and costs one
// fork/exec per run (all query sets of all packages go in one run). Any
// binary that links the generator (cmd/shardgen, the go test binaries of
// gen and its users) can serve as the child, with no hook in its main.
const (
	childEnv   = "SHARDGEN_INTERNAL_SQLC"
	childToken = "run-sqlc-v1"
)

func init() {
	if os.Getenv(childEnv) == childToken {
		os.Exit(cli.Run(os.Args[1:]))
	}
}

// sqlcSet is one query set given to sqlc: a schema and the .sql files
// checked against it.
type sqlcSet struct {
	schema string   // DDL
	files  []string // absolute paths of the user's .sql files
}

// sqlcResult is what one run returns: the decoded requests per set (nil
// for every set when anything failed) and the diagnostics sqlc printed.
type sqlcResult struct {
	requests []*sqlcRequest
	errors   []sqlcError
}

// sqlcError is one line of sqlc's stderr. File is absolute and Line is 0
// when sqlc gave no position; set is the index of the set whose schema
// failed (-1 otherwise).
type sqlcError struct {
	file      string
	line, col int
	msg       string
	set       int
}

// sqlcPos matches sqlc's "file:line:col: message".
var sqlcPos = regexp.MustCompile(`^(.+?):(\d+):(\d+): (.*)$`)

// runSqlc type-checks every set in one sqlc process, with sqlc's JSON
// output (the codegen request: queries, parameters and result columns
// with their types) written to a temporary directory and read back.
func runSqlc(sets []sqlcSet) (*sqlcResult, error) {
	tmp, err := os.MkdirTemp("", "shardgen-sqlc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// sqlc's configuration (version 2), as JSON: encoding/json quotes every
	// path correctly whatever it holds.
	type jsonGen struct {
		Out      string `json:"out"`
		Filename string `json:"filename"`
	}
	type sqlConf struct {
		Engine  string   `json:"engine"`
		Schema  string   `json:"schema"`
		Queries []string `json:"queries"`
		Gen     struct {
			JSON jsonGen `json:"json"`
		} `json:"gen"`
	}
	conf := struct {
		Version string    `json:"version"`
		SQL     []sqlConf `json:"sql"`
	}{Version: "2"}
	for i, s := range sets {
		schema := fmt.Sprintf("schema_%d.sql", i)
		if err := os.WriteFile(filepath.Join(tmp, schema), []byte(s.schema), 0o600); err != nil {
			return nil, err
		}
		// sqlc joins every path with the configuration's directory, so
		// the user's files are given relative to it; its messages then
		// name them the same way, and are joined back below.
		c := sqlConf{Engine: "postgresql", Schema: schema}
		for _, f := range s.files {
			rel, err := filepath.Rel(tmp, f)
			if err != nil {
				return nil, err
			}
			c.Queries = append(c.Queries, filepath.ToSlash(rel))
		}
		c.Gen.JSON = jsonGen{Out: "out", Filename: fmt.Sprintf("set_%d.json", i)}
		conf.SQL = append(conf.SQL, c)
	}
	confJSON, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(tmp, "sqlc.json")
	if err := os.WriteFile(confPath, confJSON, 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the running program to run sqlc in: %w", err)
	}
	cmd := exec.Command(exe, "generate", "--no-remote", "-f", confPath)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), childEnv+"="+childToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	res := &sqlcResult{}
	for _, line := range strings.Split(stderr.String(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "# package") {
			continue
		}
		e := sqlcError{msg: line, set: -1}
		if m := sqlcPos.FindStringSubmatch(line); m != nil {
			e.file = filepath.Clean(filepath.Join(tmp, filepath.FromSlash(m[1])))
			e.line, _ = strconv.Atoi(m[2])
			e.col, _ = strconv.Atoi(m[3])
			e.msg = m[4]
			for i := range sets {
				if e.file == filepath.Join(tmp, fmt.Sprintf("schema_%d.sql", i)) {
					e.set = i
				}
			}
		}
		res.errors = append(res.errors, e)
	}
	if runErr != nil {
		if len(res.errors) == 0 {
			return nil, fmt.Errorf("sqlc failed: %v\n%s%s", runErr, stdout.String(), stderr.String())
		}
		return res, nil
	}
	for i := range sets {
		data, err := os.ReadFile(filepath.Join(tmp, "out", fmt.Sprintf("set_%d.json", i)))
		if err != nil {
			return nil, fmt.Errorf("read sqlc's output: %w", err)
		}
		var req sqlcRequest
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, fmt.Errorf("decode sqlc's output: %w", err)
		}
		res.requests = append(res.requests, &req)
	}
	return res, nil
}

// sqlcRequest is the part of sqlc's codegen request (plugin.GenerateRequest
// in protojson with proto names) that shardgen reads.
type sqlcRequest struct {
	Queries []sqlcQuery `json:"queries"`
}

type sqlcQuery struct {
	Text     string       `json:"text"`
	Name     string       `json:"name"`
	Cmd      string       `json:"cmd"`
	Columns  []sqlcColumn `json:"columns"`
	Params   []sqlcParam  `json:"params"`
	Filename string       `json:"filename"`
}

type sqlcParam struct {
	Number int        `json:"number"`
	Column sqlcColumn `json:"column"`
}

type sqlcColumn struct {
	Name         string     `json:"name"`
	OriginalName string     `json:"original_name"`
	NotNull      bool       `json:"not_null"`
	IsArray      bool       `json:"is_array"`
	Table        *sqlcIdent `json:"table"`
	Type         sqlcIdent  `json:"type"`
	IsSqlcSlice  bool       `json:"is_sqlc_slice"`
	EmbedTable   *sqlcIdent `json:"embed_table"`
	ArrayDims    int        `json:"array_dims"`
}

type sqlcIdent struct {
	Catalog string `json:"catalog"`
	Schema  string `json:"schema"`
	Name    string `json:"name"`
}

// typeName is the column's type as one string ("int8", "pg_catalog.int8",
// "myschema.mood").
func (c sqlcColumn) typeName() string {
	if c.Type.Schema != "" && c.Type.Schema != "pg_catalog" {
		return c.Type.Schema + "." + c.Type.Name
	}
	return c.Type.Name
}
