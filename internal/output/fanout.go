package output

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-ids/rampart/internal/alert"
)

// Fanout sends every batch to several outputs. One failing output does not
// stop the others; the errors are joined, each naming its output.
type Fanout []Output

var _ Output = Fanout(nil)

// Name implements Output.
func (f Fanout) Name() string { return "fanout" }

// Send delivers to each output in order.
func (f Fanout) Send(ctx context.Context, alerts []alert.Alert) error {
	var errs []error
	for _, o := range f {
		if err := o.Send(ctx, alerts); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every output.
func (f Fanout) Close() error {
	var errs []error
	for _, o := range f {
		if err := o.Close(); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o.Name(), err))
		}
	}
	return errors.Join(errs...)
}
