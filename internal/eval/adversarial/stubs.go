package adversarial

import (
	"context"
	"errors"
	"io"
)

func runPayload(ctx context.Context, dir string, seed int64, progress io.Writer) (*Result, error) {
	return nil, errors.New("http-params layout: not yet")
}

func runHDFS(ctx context.Context, dir string, seed int64, progress io.Writer) (*Result, error) {
	return nil, errors.New("hdfs layout: not yet")
}
