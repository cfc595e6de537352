// Command udpecho answers every UDP datagram it receives on the port given
// as its argument with "echo:" + the datagram. The network tests build it
// statically and bind-mount it into a busybox container (busybox's nc has
// no UDP mode).
package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp4", ":"+os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	buf := make([]byte, 2048)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			os.Exit(1)
		}
		c.WriteTo(append([]byte("echo:"), buf[:n]...), addr)
	}
}
