// Command coredns is CoreDNS with the sqlitefilter plugin.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/sqlitefilter/sqlitefilter/build/plugins"
)

func main() { coremain.Run() }
