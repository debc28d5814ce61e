//go:build !linux

package syslog

import "net"

// Kernel drop counts are read from /proc/net/udp, which only Linux has.
func socketInode(*net.UDPConn) uint64 { return 0 }
func udpDrops(uint64) (uint64, bool)  { return 0, false }
func recvBuffer(*net.UDPConn) int     { return 0 }
