package syslog

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strconv"
	"syscall"
)

// socketInode returns the inode of a socket, which names it in /proc/net.
func socketInode(c *net.UDPConn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var ino uint64
	_ = rc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) == nil {
			ino = st.Ino
		}
	})
	return ino
}

// udpDrops returns the kernel's count of datagrams dropped for the UDP
// socket with inode ino (the "drops" column of /proc/net/udp and udp6:
// receive buffer full, checksum errors), and whether it was found.
func udpDrops(ino uint64) (uint64, bool) {
	if ino == 0 {
		return 0, false
	}
	want := []byte(strconv.FormatUint(ino, 10))
	for _, p := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := bytes.Fields(sc.Bytes())
			// sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
			if len(fields) < 13 || !bytes.Equal(fields[9], want) {
				continue
			}
			n, err := strconv.ParseUint(string(fields[12]), 10, 64)
			f.Close()
			return n, err == nil
		}
		f.Close()
	}
	return 0, false
}

// recvBuffer returns the socket's SO_RCVBUF as the kernel reports it.
func recvBuffer(c *net.UDPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return n
}
