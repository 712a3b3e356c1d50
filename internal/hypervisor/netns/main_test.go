package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns/holder"
)

// TestMain makes the test binary play the programs the tests run inside
// hosts: the holder, as xrdtest does, and small daemons.
func TestMain(m *testing.M) {
	if os.Getpid() == 1 && os.Getenv(guestEnv) == "1" {
		guestInit(m) // never returns
	}
	// This test process and its children (holders, a hypervisor) name
	// what they make with a prefix of their own: the tests count only
	// that, while other packages' tests make clusters too.
	if p := os.Getenv("XRDTEST_NETNS_TEST_PREFIX"); p != "" {
		nsPrefix = p
	} else {
		nsPrefix = fmt.Sprintf("xrdt%d-", os.Getpid())
		os.Setenv("XRDTEST_NETNS_TEST_PREFIX", nsPrefix)
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case holder.Command:
			if err := holder.Run(os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "slave": // a stand-in slave: says its name to --master, runs until stopped
			for i, a := range os.Args {
				if a == "--master" && i+2 < len(os.Args) {
					if c, err := net.Dial("tcp", os.Args[i+1]); err == nil {
						fmt.Fprintln(c, os.Args[i+3])
						defer c.Close()
					}
				}
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM)
			<-sig
			os.Exit(0)
		case "__test-hypervisor": // DIR: start fourHosts, say so, run until killed
			b, err := New(Config{StateDir: os.Args[2], Binary: os.Args[0]})
			if err == nil {
				err = b.StartCluster(context.Background(), hypervisor.ClusterSpec{Cluster: fourHosts(), Master: hypervisor.MasterEndpoint{Port: 1}})
			}
			if err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			fmt.Println("started")
			select {}
		case "__test-runner": // JOIN WORK: TestRunnerInHost's runner beside a host
			if err := runBeside(os.Args[2], os.Args[3]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "__test-check": // print what Check says
			fmt.Println(Check())
			os.Exit(0)
		case "__test-serve": // ADDR GREETING: answer every connection
			l, err := net.Listen("tcp", os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			for {
				c, err := l.Accept()
				if err != nil {
					os.Exit(1)
				}
				host, _ := os.Hostname()
				fmt.Fprintf(c, "%s from %s\n", os.Args[3], host)
				c.Close()
			}
		case "__test-alloc": // MiB: touch that much memory
			n, _ := strconv.Atoi(os.Args[2])
			b := make([]byte, n<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			fmt.Println("allocated", n, "MiB")
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// guestEnv, set on the kernel command line of TestCgroupV2InVM's VM,
// makes this binary that VM's init; guestExit starts the line where it
// prints the tests' exit code.
const (
	guestEnv  = "XRDTEST_CGROUP_GUEST"
	guestExit = "xrdtest-guest-exit: "
)

// guestInit is PID 1 of TestCgroupV2InVM's VM: it mounts what the tests
// use, runs TestCgroupV2Kernel, prints its exit code and reboots, which
// ends QEMU (-no-reboot).
func guestInit(m *testing.M) {
	for _, fs := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := syscall.Mount(fs.src, fs.dir, fs.typ, 0, ""); err != nil {
			fmt.Println("mount", fs.dir, err)
		}
	}
	os.Setenv("PATH", "/bin")
	os.Setenv("TMPDIR", "/tmp")
	os.Args = []string{os.Args[0], "-test.run", "^TestCgroupV2Kernel$", "-test.v"}
	code := m.Run()
	fmt.Printf("\n%s%d\n", guestExit, code)
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_RESTART)
	select {}
}
