# Build the custom CoreDNS and the admin command; `make run` starts the example.
GO ?= go

.PHONY: all coredns admin run test clean

all: coredns admin

coredns:
	$(GO) build -o bin/coredns ./build/coredns

admin:
	$(GO) build -o bin/sqlitefilter ./cmd/sqlitefilter

example.db: example/example.sql | admin
	rm -f example.db example.db-wal example.db-shm
	bin/sqlitefilter init example.db --sql example/example.sql

run: all example.db
	bin/coredns -conf Corefile.example

test:
	bash .ci/run

clean:
	rm -rf bin example.db example.db-wal example.db-shm
