package main

import (
	"errors"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// noSpace reports whether err comes from a write that the disk or a limit
// refused: a full file system (ENOSPC, SQLite's SQLITE_FULL), a quota
// (EDQUOT) or the process's file size limit (EFBIG, `ulimit -f`). SQLite
// reports the last two as an I/O error carrying the errno.
func noSpace(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		if se.Code == sqlite3.ErrFull {
			return true
		}
		err = se.SystemErrno
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EFBIG) || errors.Is(err, syscall.EDQUOT)
}

// noSpaceMessage explains a noSpace error in the words an operator
// searches for.
const noSpaceMessage = "no space: the disk is full or the file size limit (ulimit -f) was reached"
