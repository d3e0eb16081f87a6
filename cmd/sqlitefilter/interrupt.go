package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interrupted is the cause of a context cancelled by SIGINT or SIGTERM, and
// the error of a command stopped by one; main exits with 128 plus the
// signal's number.
type interrupted struct{ sig syscall.Signal }

func (e *interrupted) Error() string {
	name := "SIGTERM"
	if e.sig == syscall.SIGINT {
		name = "SIGINT"
	}
	return "interrupted by " + name
}

// signalContext returns a context cancelled, with an *interrupted cause, at
// the first SIGINT or SIGTERM. After that first signal the default action is
// restored, so a second one stops the process at once, whatever the clean-up
// it interrupts (what that leaves is what a kill leaves: see the README).
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&interrupted{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// stopped returns the error for an operation that failed because ctx was
// cancelled: the signal, followed by what was kept, so the operator knows
// what is on disk. It returns nil when ctx is not cancelled.
func stopped(ctx context.Context, kept string, args ...any) error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	return fmt.Errorf("%w: %s", cause, fmt.Sprintf(kept, args...))
}
