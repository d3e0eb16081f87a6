package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestExitCodes runs every command with a usage error (exit 2) and a few
// with a failing operation (exit 1): a script can tell its own mistake from
// a problem with the data.
func TestExitCodes(t *testing.T) {
	bin := buildAdmin(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "ok.db")
	seedDB(t, db, seedRows)
	other := filepath.Join(dir, "other.db")
	seedDB(t, other, "")
	missing := filepath.Join(dir, "missing.db")
	list := filepath.Join(dir, "list.txt")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"init without DB", []string{"init"}, 2},
		{"init unknown layout", []string{"init", filepath.Join(dir, "new.db"), "--layout", "sideways"}, 2},
		{"init unknown flag", []string{"init", filepath.Join(dir, "new.db"), "--colour"}, 2},
		{"import without file", []string{"import", db, "--table", "block_exact"}, 2},
		{"import unknown table", []string{"import", db, "--table", "nope", list}, 2},
		{"import unknown format", []string{"import", db, "--table", "block_exact", "--format", "xml", list}, 2},
		{"import bad batch", []string{"import", db, "--table", "block_exact", "--batch", "0", list}, 2},
		{"import batch not a number", []string{"import", db, "--table", "block_exact", "--batch", "many", list}, 2},
		{"import stdin twice", []string{"import", db, "--table", "block_exact", "-", "-"}, 2},
		{"add without table", []string{"add", db, "a.example"}, 2},
		{"add missing target", []string{"add", db, "--table", "domain_alias", "a.example"}, 2},
		{"add extra target", []string{"add", db, "--table", "block_exact", "a.example", "b.example"}, 2},
		{"remove without key", []string{"remove", db, "--table", "block_exact"}, 2},
		{"remove unknown table", []string{"remove", db, "--table", "nope", "a.example"}, 2},
		{"export without table", []string{"export", db}, 2},
		{"export wrong format", []string{"export", db, "--table", "block_exact", "--format", "csv"}, 2},
		{"stats two databases", []string{"stats", db, db}, 2},
		{"stats unknown flag", []string{"stats", db, "--fast"}, 2},
		{"check without DB", []string{"check"}, 2},
		{"optimize two databases", []string{"optimize", db, db}, 2},
		{"migrate one argument", []string{"migrate", db}, 2},
		{"migrate unknown layout", []string{"migrate", db, filepath.Join(dir, "m.db"), "--layout", "sideways"}, 2},
		{"explain without name", []string{"explain", db}, 2},
		{"explain unknown type", []string{"explain", db, "a.example", "NOTATYPE"}, 2},
		{"split without shard", []string{"split", db}, 2},
		{"split shard named twice", []string{"split", db, filepath.Join(dir, "s.db"), filepath.Join(dir, "s.db")}, 2},
		{"split into the source", []string{"split", db, db}, 2},
		{"explain-shards without shard", []string{"explain-shards", "a.example"}, 2},
		{"sync without DB", []string{"sync"}, 2},
		{"sync bad timeout", []string{"sync", db, "--timeout", "soon"}, 2},
		{"sync unknown flag", []string{"sync", db, "--force"}, 2},

		{"help", []string{"stats", "-h"}, 0},
		{"stats of a missing database", []string{"stats", missing}, 1},
		{"import of a missing file", []string{"import", db, "--table", "block_exact", filepath.Join(dir, "no-such-list")}, 1},
		{"add an invalid name", []string{"add", db, "--table", "block_exact", "bad;name"}, 1},
		{"remove a missing row", []string{"remove", db, "--table", "block_exact", "absent.example"}, 1},
		{"init over an existing file", []string{"init", db}, 1},
		{"migrate onto an existing file", []string{"migrate", db, other}, 1},
		{"sync of a missing database", []string{"sync", missing}, 1},
		{"sync of a list not there", []string{"sync", db, "--list", "nosuch"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAdmin(t, exec.Command(bin, tt.args...))
			if r.code != tt.want {
				t.Errorf("%v: exit %d, want %d; stderr: %s", tt.args, r.code, tt.want, r.stderr)
			}
		})
	}
}
