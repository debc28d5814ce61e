package guard

import (
	"math"
	"sort"
	"sync"
)

// nnIndex is a k-d tree over reference rows (row-major, d wide, held in
// leaf order) for the exact k-nearest-neighbour distance. The search
// visits the query's side of each split first and skips a subtree whose
// box lies at least the current k-th best distance away (the box distance
// kept incrementally per split feature, as in Arya and Mount), and a row's
// distance is abandoned once it reaches that bound. Rows are summed in
// feature order either way, so the distance found is the one an
// exhaustive scan finds, bit for bit.
type nnIndex struct {
	ref   []float64
	nodes []kdNode // nil: scan every row
	d, k  int
	pool  sync.Pool // *knnState, so a check allocates nothing
}

// kdNode is a leaf (left < 0: rows lo..hi) or a split on feature dim:
// rows of the left child have values ≤ lmax there, of the right ≥ rmin.
type kdNode struct {
	lo, hi, left, right, dim int32
	lmax, rmin               float64
}

// leafRows bounds the rows of a leaf; below it a split saves less than
// its bookkeeping costs.
const leafRows = 12

// pruneSlack keeps a subtree whose box distance, summed in another order
// than a row's distance, could round a few ulps above that row's.
const pruneSlack = 1 - 1e-9

// knnState is one search's scratch: the query, the box offset per feature
// (0 between searches) and the k best squared distances, ascending.
type knnState struct {
	xs, off, best []float64
	found         int
}

// orderByPivot reorders rows (row-major, d wide) by their distance to the
// rows' centroid, the order Ref is stored in.
func orderByPivot(rows []float64, d int) {
	n := len(rows) / d
	if n == 0 {
		return
	}
	pivot := make([]float64, d)
	for off := 0; off < len(rows); off += d {
		for j := range d {
			pivot[j] += rows[off+j] / float64(n)
		}
	}
	type row struct {
		dist float64
		off  int
	}
	rs := make([]row, n)
	for i := range rs {
		rs[i] = row{dist2(rows[i*d:(i+1)*d], pivot, math.Inf(1)), i * d}
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].dist < rs[b].dist })
	ordered := make([]float64, 0, len(rows))
	for _, r := range rs {
		ordered = append(ordered, rows[r.off:r.off+d]...)
	}
	copy(rows, ordered)
}

// newIndex builds a k-d tree over a copy of rows (row-major, d wide).
func newIndex(rows []float64, d, k int) *nnIndex {
	ix := &nnIndex{d: d, k: k}
	n := len(rows) / d
	if d == 0 || n == 0 {
		ix.ref = rows
		return ix
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	mean, ss := make([]float64, d), make([]float64, d)
	var build func(lo, hi int) int32
	build = func(lo, hi int) int32 {
		at := int32(len(ix.nodes))
		ix.nodes = append(ix.nodes, kdNode{lo: int32(lo), hi: int32(hi), left: -1, right: -1})
		if hi-lo <= leafRows {
			return at
		}
		// Split the most varied feature at the value change nearest the
		// middle.
		clear(mean)
		clear(ss)
		m := float64(hi - lo)
		for _, p := range perm[lo:hi] {
			for j, v := range rows[int(p)*d : int(p)*d+d] {
				mean[j] += v / m
			}
		}
		for _, p := range perm[lo:hi] {
			for j, v := range rows[int(p)*d : int(p)*d+d] {
				ss[j] += (v - mean[j]) * (v - mean[j])
			}
		}
		dim := 0
		for j := range ss {
			if ss[j] > ss[dim] {
				dim = j
			}
		}
		if !(ss[dim] > 0) {
			return at
		}
		val := func(i int) float64 { return rows[int(perm[i])*d+dim] }
		part := perm[lo:hi]
		sort.Slice(part, func(a, b int) bool {
			va, vb := rows[int(part[a])*d+dim], rows[int(part[b])*d+dim]
			return va < vb || (va == vb && part[a] < part[b])
		})
		mid, cut := (lo+hi)/2, -1
		for off := 0; cut < 0 && (mid-off > lo || mid+off < hi); off++ {
			if i := mid - off; i > lo && val(i-1) < val(i) {
				cut = i
			} else if i := mid + off; i > lo && i < hi && val(i-1) < val(i) {
				cut = i
			}
		}
		if cut < 0 {
			return at
		}
		lmax, rmin := val(cut-1), val(cut)
		left := build(lo, cut)
		right := build(cut, hi)
		ix.nodes[at].left, ix.nodes[at].right, ix.nodes[at].dim = left, right, int32(dim)
		ix.nodes[at].lmax, ix.nodes[at].rmin = lmax, rmin
		return at
	}
	build(0, n)
	ix.ref = make([]float64, 0, len(rows))
	for _, p := range perm {
		ix.ref = append(ix.ref, rows[int(p)*d:int(p)*d+d]...)
	}
	return ix
}

// state returns a search scratch with xs to fill with the query.
func (ix *nnIndex) state() *knnState {
	if s, ok := ix.pool.Get().(*knnState); ok {
		return s
	}
	return &knnState{xs: make([]float64, ix.d), off: make([]float64, ix.d), best: make([]float64, max(1, ix.k))}
}

// search is the Euclidean distance from s.xs to its k-th nearest
// reference row; it returns s to the pool.
func (ix *nnIndex) search(s *knnState) float64 {
	defer ix.pool.Put(s)
	d := ix.d
	if d == 0 || len(ix.ref) < d {
		return 0
	}
	for i := range s.best {
		s.best[i] = math.Inf(1)
	}
	s.found = 0
	if ix.nodes == nil {
		ix.scan(0, len(ix.ref)/d, s)
	} else {
		ix.visit(0, 0, s)
	}
	return math.Sqrt(s.best[min(s.found, len(s.best))-1])
}

// visit searches node n, whose box lies at squared distance rd (a lower
// bound) from the query.
func (ix *nnIndex) visit(n int32, rd float64, s *knnState) {
	nd := &ix.nodes[n]
	if nd.left < 0 {
		ix.scan(int(nd.lo), int(nd.hi), s)
		return
	}
	v := s.xs[nd.dim]
	near, far, gap := nd.left, nd.right, nd.rmin-v
	if v-nd.lmax > nd.rmin-v {
		near, far, gap = nd.right, nd.left, v-nd.lmax
	}
	ix.visit(near, rd, s)
	old := s.off[nd.dim]
	if gap <= old {
		ix.visit(far, rd, s)
		return
	}
	frd := rd - old*old + gap*gap
	if frd*pruneSlack >= s.best[len(s.best)-1] {
		return
	}
	s.off[nd.dim] = gap
	ix.visit(far, frd, s)
	s.off[nd.dim] = old
}

// scan considers rows lo..hi.
func (ix *nnIndex) scan(lo, hi int, s *knnState) {
	d, best := ix.d, s.best
	k := len(best)
	for i := lo; i < hi; i++ {
		sd := dist2(s.xs, ix.ref[i*d:i*d+d], best[k-1])
		if sd >= best[k-1] {
			continue
		}
		at := k - 1
		for at > 0 && best[at-1] > sd {
			best[at] = best[at-1]
			at--
		}
		best[at] = sd
		s.found++
	}
}

// dist2 is the squared Euclidean distance, abandoned (returned as is)
// once it reaches bound.
func dist2(a, b []float64, bound float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for j, v := range a {
		e := v - b[j]
		s += e * e
		if s >= bound {
			return s
		}
	}
	return s
}

// index builds the search indexes of the reference rows: in Scale units
// (after putting Ref in pivot order, the order it is stored in) and, when
// the guard has rank knots, in rank units (derived from Ref, so the
// artifact stores the rows once).
func (g *Guard) index() {
	d := len(g.Features)
	orderByPivot(g.Ref, d)
	g.std = newIndex(g.Ref, d, g.K)
	g.rank, g.rankDims = nil, nil
	if rows, dims := g.rankRows(); rows != nil {
		g.rank, g.rankDims = newIndex(rows, d, g.K), dims
	}
}

// indexes returns the search indexes; a guard decoded without
// FromArtifact has none and gets unordered ones, searched exhaustively
// (slow, but it writes no shared state, so concurrent checks stay safe).
func (g *Guard) indexes() (std, rank *nnIndex, rankDims []int) {
	if g.std != nil {
		return g.std, g.rank, g.rankDims
	}
	d := len(g.Features)
	std = &nnIndex{ref: g.Ref, d: d, k: g.K}
	if rows, dims := g.rankRows(); rows != nil {
		rank, rankDims = &nnIndex{ref: rows, d: d, k: g.K}, dims
	}
	return std, rank, rankDims
}

// knn is the distance (in Scale units) from x to its K-th nearest
// reference row.
func (g *Guard) knn(x []float64) float64 {
	std, _, _ := g.indexes()
	s := std.state()
	for j, v := range x {
		s.xs[j] = v / g.Scale[j]
	}
	return std.search(s)
}

// rankKNN is the distance from x to its K-th nearest reference row with
// every feature replaced by its training mid-rank share (0 when the guard
// has no knots).
func (g *Guard) rankKNN(x []float64) float64 {
	_, rank, dims := g.indexes()
	if rank == nil {
		return 0
	}
	s := rank.state()
	for i, j := range dims {
		s.xs[i] = g.rankOf(j, x[j])
	}
	return rank.search(s)
}
