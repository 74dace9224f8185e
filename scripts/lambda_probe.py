#!/usr/bin/env python3
"""Measures a Lambda function binary locally: a minimal Lambda Runtime API on 127.0.0.1 serves
one event to the bootstrap, and reports init time (process start to the first
/invocation/next), the invocation's duration and response, and the process's peak memory.

usage: lambda_probe.py BINARY EVENT.json [ENV=VALUE ...]
"""
import http.server, json, os, signal, subprocess, sys, threading, time

binary, event_path = sys.argv[1], sys.argv[2]
extra_env = dict(a.split("=", 1) for a in sys.argv[3:])
event = open(event_path, "rb").read()
state = {"next": [], "response": None, "error": None, "done": threading.Event()}


class Runtime(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if not self.path.endswith("/invocation/next"):
            self.send_response(404); self.end_headers(); return
        state["next"].append(time.monotonic())
        if len(state["next"]) > 1:
            # Second poll: the invocation is over; hold the connection until we stop.
            state["done"].set()
            time.sleep(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", "probe-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:probe")
        self.send_header("Content-Length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        key = "response" if self.path.endswith("/response") else "error"
        state[key] = (time.monotonic(), body.decode("utf-8", "replace"))
        self.send_response(202); self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    "AWS_LAMBDA_FUNCTION_NAME": "probe", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": "probe",
    "AWS_LAMBDA_LOG_STREAM_NAME": "probe",
})
env.update(extra_env)
start = time.monotonic()
proc = subprocess.Popen(["/usr/bin/time", "-f", "maxrss_kb=%M", binary], env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
state["done"].wait(timeout=60)
time.sleep(0.2)
# Stop the function (it waits for its next event); /usr/bin/time then reports its peak memory.
try:
    kids = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
except OSError:
    kids = []
for k in kids:
    os.kill(int(k), signal.SIGTERM)
if not kids:
    os.killpg(proc.pid, signal.SIGTERM)
out, err = proc.communicate(timeout=10)
rss = [l for l in err.decode().splitlines() if l.startswith("maxrss_kb=")]
first = state["next"][0] - start if state["next"] else None
result = {
    "init_ms": round(first * 1000, 1) if first is not None else None,
    "invoke_ms": round((state["response"] or state["error"])[0] * 1000 - state["next"][0] * 1000, 1)
    if state["next"] and (state["response"] or state["error"]) else None,
    "peak_rss_mb": round(int(rss[-1].split("=")[1]) / 1024, 1) if rss else None,
    "response": (state["response"] or state["error"] or (None, None))[1],
    "errored": state["error"] is not None,
}
print(json.dumps(result))
