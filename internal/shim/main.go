package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// maxClaim bounds the size of a claim the shim reads.
const maxClaim = 4 << 20

// Main is `berth shim SPEC`, the entrypoint of a warm container: it waits
// for a claim on the socket in Dir and replaces itself with the job's
// process. It returns only when it does not: the container's exit code,
// with what went wrong written to stderr. SIGTERM or SIGINT end the wait
// (exit 0): the container was not used.
func Main(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: berth "+Command+" SPEC (run by berth in warm containers)")
		return 2
	}
	spec, err := DecodeSpec(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "berth shim:", err)
		return 2
	}
	sock := filepath.Join(Dir, SocketName)
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(stderr, "berth shim:", err)
		return 1
	}
	// The agent may run as another user than the image's.
	if err := os.Chmod(sock, 0o666); err != nil {
		fmt.Fprintln(stderr, "berth shim:", err)
		return 1
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			fmt.Fprintln(stderr, "berth shim:", err)
			return 1
		}
		if code, done := serve(conn.(*net.UnixConn), spec); done {
			return code
		}
	}
}

// serve takes one claim. It returns only when the job's process was not
// started: done reports whether the shim should end, with code.
func serve(conn *net.UnixConn, spec Spec) (code int, done bool) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var c Claim
	if err := json.NewDecoder(io.LimitReader(conn, maxClaim)).Decode(&c); err != nil {
		answer(conn, Answer{Refused: "bad claim: " + err.Error()})
		return 0, false
	}
	if why := spec.check(c); why != "" {
		answer(conn, Answer{Refused: why})
		return 0, false
	}
	env := Environ(os.Environ(), c.Env)
	argv, err := Argv(spec.Entrypoint, spec.Cmd, c.Command)
	if err != nil {
		answer(conn, Answer{NoExec: err.Error()})
		return 127, true
	}
	path, err := lookPath(argv[0], env, executable)
	if err != nil {
		answer(conn, Answer{NoExec: err.Error()})
		return 127, true
	}
	won, err := decide(Dir, Exec)
	if err != nil {
		answer(conn, Answer{Refused: "record the claim: " + err.Error()})
		return 1, true
	}
	if !won {
		answer(conn, Answer{Refused: "the claim was abandoned"})
		return 0, true
	}
	// conn is close-on-exec: the agent reads end-of-file once this succeeds.
	err = syscall.Exec(path, argv, env)
	answer(conn, Answer{NoExec: fmt.Sprintf("exec %q: %v", argv[0], err)})
	return 127, true
}

func answer(conn net.Conn, a Answer) {
	_ = json.NewEncoder(conn).Encode(a)
}

// executable reports why path is not a file this process may execute.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if err := syscall.Access(path, 1); err != nil { // X_OK
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
