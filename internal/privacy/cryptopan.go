package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"net/netip"
)

// cryptoPAn is the prefix-preserving address pseudonymization of Xu, Fan,
// Ammar and Moon ("Prefix-preserving IP address anonymization", 2002),
// written from the paper on top of crypto/aes. Bit i of the output is bit i
// of the input XOR the top bit of AES_K(first i input bits || pad[i:]), so two
// addresses sharing a k-bit prefix map to outputs sharing exactly a k-bit
// prefix. IPv6 uses the same construction over 128 bits.
//
// A cryptoPAn is safe for concurrent use (cipher.Block is stateless).
type cryptoPAn struct {
	block cipher.Block
	pad   [16]byte
}

// newCryptoPAn takes the 32-byte key of the reference implementation: the
// first half keys AES, the second half (encrypted once) is the pad.
func newCryptoPAn(key []byte) (*cryptoPAn, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("crypto-pan key must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("creating crypto-pan cipher: %w", err)
	}
	c := &cryptoPAn{block: b}
	b.Encrypt(c.pad[:], key[16:32])
	return c, nil
}

// otpBit returns the one-time-pad bit for position pos given the first pos
// bits of orig (the rest of orig is ignored).
func (c *cryptoPAn) otpBit(orig []byte, pos int) byte {
	var in, out [16]byte
	in = c.pad
	full := pos / 8
	copy(in[:full], orig[:full])
	if rem := pos % 8; rem > 0 {
		mask := byte(0xff << (8 - rem))
		in[full] = orig[full]&mask | c.pad[full]&^mask
	}
	c.block.Encrypt(out[:], in[:])
	return out[0] >> 7
}

// anonymize maps a 4- or 16-byte address.
func (c *cryptoPAn) anonymize(orig []byte) []byte {
	res := make([]byte, len(orig))
	for pos := 0; pos < len(orig)*8; pos++ {
		res[pos/8] |= c.otpBit(orig, pos) << (7 - pos%8)
	}
	for i := range res {
		res[i] ^= orig[i]
	}
	return res
}

// deanonymize inverts anonymize: the original's first pos bits are known
// when the pad bit for position pos is needed.
func (c *cryptoPAn) deanonymize(anon []byte) []byte {
	orig := make([]byte, len(anon))
	for pos := 0; pos < len(anon)*8; pos++ {
		bit := (anon[pos/8] >> (7 - pos%8) & 1) ^ c.otpBit(orig, pos)
		orig[pos/8] |= bit << (7 - pos%8)
	}
	return orig
}

// addr maps an address, keeping its family and zone-free form. An IPv4-mapped
// IPv6 address is mapped as IPv4 so both spellings agree.
func (c *cryptoPAn) addr(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		b := a.As4()
		return netip.AddrFrom4([4]byte(c.anonymize(b[:])))
	}
	b := a.As16()
	return netip.AddrFrom16([16]byte(c.anonymize(b[:])))
}

// unaddr inverts addr.
func (c *cryptoPAn) unaddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		b := a.As4()
		return netip.AddrFrom4([4]byte(c.deanonymize(b[:])))
	}
	b := a.As16()
	return netip.AddrFrom16([16]byte(c.deanonymize(b[:])))
}
