package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// This file writes the stream over every row of a model, for jobs and
// backfills: StreamAllShards on a sharded model, Stream on a database model
// (model.Model.StreamMethod). The runtime's generic StreamGroup and
// StreamTarget do the keyset chunks, the shard order, the bounded read-ahead
// and the progress; the model gives its statement, its scan function and
// how to get a row's ID, so no row goes through an interface.

// streamQuery names the repository field of the stream's statement.
const streamQuery = "qStream"

// streamSQL reads one chunk: the rows after the last ID read ($1), by
// ascending ID, at most $2 of them, answered by the primary key's index.
func streamSQL(mi *modelInfo) string {
	m := mi.m
	id := ddl.QuoteIdent(m.PK.Column)
	return "SELECT " + strings.Join(columns(m.Fields), ", ") + " FROM " + runtime.SchemaToken + "." + ddl.QuoteIdent(m.Table) +
		" WHERE " + id + " > $1 ORDER BY " + id + " LIMIT $2"
}

func (e *emitter) stream(f *jen.File, v variant) {
	m := v.mi.m
	row := e.local(m.GoName)
	name := m.StreamMethod()
	var text string
	var call *jen.Statement
	if v.mi.sharded {
		text = fmt.Sprintf("%s iterates over every %s row of every logical shard of group %q, "+
			"shard after shard and by ascending ID within a shard, reading opts.Chunk rows "+
			"(default 1,000) per round trip and opts.Parallel shards at once (default one): "+
			"for jobs and backfills, not a request path. A connection is held only while a "+
			"chunk is read, so breaking out of the loop leaks nothing. opts.Progress, when set, "+
			"says how far the stream is (shards done, rows, and a runtime.Cursor to persist); "+
			"opts.From resumes from such a cursor. The first error ends the stream; see "+
			"runtime.StreamGroup.", name, m.GoName, m.Group.Name)
		call = rt("StreamGroup").Call(jen.Id("ctx"), v.group(), v.query(streamQuery), jen.Id("opts"), jen.Id(m.ScanFunc()), e.streamID(m))
	} else {
		text = fmt.Sprintf("%s iterates over every %s row by ascending ID, reading opts.Chunk rows "+
			"(default 1,000) per round trip: for jobs and backfills, not a request path. A "+
			"connection is held only while a chunk is read, so breaking out of the loop leaks "+
			"nothing. opts.Progress, when set, says how far the stream is (rows, and a "+
			"runtime.Cursor to persist); opts.From resumes from such a cursor. The first error "+
			"ends the stream; see runtime.StreamTarget.", name, m.GoName)
		call = rt("StreamTarget").Call(jen.Id("ctx"), jen.Id("r").Dot("target"), v.query(streamQuery), jen.Id("opts"), jen.Id(m.ScanFunc()), e.streamID(m))
	}
	f.Add(doc(text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id(name).
		Params(ctxParam(), jen.Id("opts").Add(rt("StreamOptions"))).
		Qual("iter", "Seq2").Types(jen.Op("*").Add(row), jen.Error()).
		Block(jen.Return(call))
}

// streamID is the function literal returning a row's ID.
func (e *emitter) streamID(m *model.Model) jen.Code {
	return jen.Func().Params(jen.Id("row").Op("*").Add(e.local(m.GoName))).Int64().Block(jen.Return(fieldOf("row", m.PK)))
}
