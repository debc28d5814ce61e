package adversarial

import (
	"context"
	"errors"
	"io"
)

func runHDFS(ctx context.Context, dir string, seed int64, progress io.Writer) (*Result, error) {
	return nil, errors.New("hdfs layout: not yet")
}
