package privacy

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// refKey is the sample key of the Crypto-PAn reference distribution
// (cryptopan.cc sample_trace_raw.dat / sample_trace_sanitized.dat).
var refKey = []byte{21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2}

// TestCryptoPAnKnownAnswers checks the published IPv4 vectors of the
// reference implementation, and IPv6 vectors published by an independent Go
// implementation of the same 128-bit extension (github.com/Yawning/cryptopan).
func TestCryptoPAnKnownAnswers(t *testing.T) {
	c, err := newCryptoPAn(refKey)
	if err != nil {
		t.Fatal(err)
	}
	vectors := [][2]string{
		{"128.11.68.132", "135.242.180.132"}, {"129.118.74.4", "134.136.186.123"},
		{"130.132.252.244", "133.68.164.234"}, {"141.223.7.43", "141.167.8.160"},
		{"141.233.145.108", "141.129.237.235"}, {"152.163.225.39", "151.140.114.167"},
		{"156.29.3.236", "147.225.12.42"}, {"165.247.96.84", "162.9.99.234"},
		{"166.107.77.190", "160.132.178.185"}, {"192.102.249.13", "252.138.62.131"},
		{"192.215.32.125", "252.43.47.189"}, {"192.233.80.103", "252.25.108.8"},
		{"192.41.57.43", "252.222.221.184"}, {"193.150.244.223", "253.169.52.216"},
		{"195.205.63.100", "255.186.223.5"}, {"198.200.171.101", "249.199.68.213"},
		{"198.26.132.101", "249.36.123.202"}, {"198.36.213.5", "249.7.21.132"},
		{"198.51.77.238", "249.18.186.254"}, {"199.217.79.101", "248.38.184.213"},
		{"202.49.198.20", "245.206.7.234"}, {"203.12.160.252", "244.248.163.4"},
		{"204.184.162.189", "243.192.77.90"}, {"204.202.136.230", "243.178.4.198"},
		{"204.29.20.4", "243.33.20.123"}, {"205.178.38.67", "242.108.198.51"},
		{"205.188.147.153", "242.96.16.101"}, {"205.188.248.25", "242.96.88.27"},
		{"205.245.121.43", "242.21.121.163"}, {"207.105.49.5", "241.118.205.138"},
		{"24.0.250.221", "100.15.198.226"}, {"24.5.0.80", "100.9.15.210"},
		{"38.15.67.68", "64.3.66.187"}, {"4.3.88.225", "124.60.155.63"},
		{"64.14.118.196", "0.255.183.58"}, {"10.185.25.118", "117.161.29.118"},
		// IPv6
		{"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
		{"::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
		{"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
		{"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
		{"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
	}
	for _, v := range vectors {
		in, want := netip.MustParseAddr(v[0]), netip.MustParseAddr(v[1])
		if got := c.addr(in); got != want {
			t.Errorf("cryptopan(%s) = %s, want %s", in, got, want)
		}
		if back := c.unaddr(want); back != in {
			t.Errorf("inverse(%s) = %s, want %s", want, back, in)
		}
	}
	if _, err := newCryptoPAn(refKey[:16]); err == nil {
		t.Error("16-byte key accepted, want error")
	}
}

// commonPrefix counts leading equal bits.
func commonPrefix(a, b []byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			n := i * 8
			for x&0x80 == 0 {
				n++
				x <<= 1
			}
			return n
		}
	}
	return len(a) * 8
}

// TestCryptoPAnPrefixPreserving: for random pairs sharing a random-length
// prefix, the pseudonyms share exactly that prefix length.
func TestCryptoPAnPrefixPreserving(t *testing.T) {
	c, err := newCryptoPAn(refKey)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{4, 16} {
		for range 300 {
			a := make([]byte, n)
			for i := range a {
				a[i] = byte(r.UintN(256))
			}
			b := append([]byte(nil), a...)
			k := r.IntN(n * 8) // flip bit k: shared prefix is exactly k
			b[k/8] ^= 0x80 >> (k % 8)
			for i := k + 1; i < n*8; i++ {
				if r.IntN(2) == 0 {
					b[i/8] ^= 0x80 >> (i % 8)
				}
			}
			pa, pb := c.anonymize(a), c.anonymize(b)
			if got := commonPrefix(pa, pb); got != k {
				t.Fatalf("len %d: inputs share %d bits, pseudonyms share %d", n, k, got)
			}
		}
	}
}
