module github.com/shardgen/shardgen

go 1.26.0
