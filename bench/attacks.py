#!/usr/bin/env python3
"""The abuse mix for bench/abuse.sh: for DURATION seconds, send each attack in
turn to a Confide server on loopback and time how long each takes to be refused.
Prints one line per attack kind: count, refusal codes seen, p50/max seconds.
Loopback only; bounded in time and count; stops by itself."""
import json, os, socket, statistics, sys, threading, time, urllib.request

URL = os.environ.get("URL", "http://127.0.0.1:18080/graphql")
TOKEN = os.environ["TOKEN"]
DURATION = float(os.environ.get("ATTACK_SECONDS", "60"))
HOST, PORT = "127.0.0.1", int(URL.split(":")[2].split("/")[0])

def bomb():
    q = "query { me { ...F24 } }\nfragment F0 on Me { id }\n"
    for i in range(1, 25):
        q += f"fragment F{i} on Me {{ ...F{i-1} ...F{i-1} }}\n"
    return {"query": q}

ATTACKS = {
    "fragment bomb": lambda: bomb(),
    "nested lists": lambda: {"query": "{ students(first: 100) { edges { node { cases { student { cases { student { cases { id notes { body } } } } } } } } } }"},
    "alias flood": lambda: {"query": "{ " + " ".join(f"a{i}: supportCases(first: 100) {{ totalCount }}" for i in range(120)) + " }"},
    "note searches": lambda: {"query": "{ " + " ".join(f"s{i}: supportCases(filter: {{ noteContains: \"x{i}\" }}) {{ totalCount }}" for i in range(2500)) + " }"},
    "cursor 2^63": lambda: {"query": "{ students(first: 5, after: \"Y29uZmlkZTp2MTo5MjIzMzcyMDM2ODU0Nzc1ODA4\") { totalCount } }"},
    "NUL in text": lambda: {"query": "mutation { createStudent(input: { studentNumber: \"X1\", name: \"a\\u0000b\", email: \"x@uni.example\", department: \"history\", course: \"BA\" }) { id } }"},
    "oversize body": lambda: {"query": "{ me { id } }", "variables": {"pad": "x" * (400 * 1024)}},
}

results = {name: [] for name in ATTACKS}
codes = {name: set() for name in ATTACKS}
lock = threading.Lock()

def send(name, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(URL, data=data, headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = json.loads(r.read() or b"{}")
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
        try:
            payload = json.loads(e.read() or b"{}")
        except Exception:
            payload = {}
    except Exception as e:  # connection closed, timeout
        status, payload = f"error:{type(e).__name__}", {}
    elapsed = time.monotonic() - start
    code = ",".join(sorted({(err.get("extensions") or {}).get("code", "?") for err in payload.get("errors", [])})) or "none"
    with lock:
        results[name].append(elapsed)
        codes[name].add(f"{status}/{code}")

def trickle(deadline, conns=200):
    """Slow bodies: connections that send their headers, then a byte at a time."""
    socks = []
    head = (f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
    for _ in range(conns):
        try:
            s = socket.create_connection((HOST, PORT), timeout=2)
            s.sendall(head)
            socks.append((s, time.monotonic()))
        except OSError:
            pass
    cut = []
    while time.monotonic() < deadline and socks:
        time.sleep(1)
        alive = []
        for s, t0 in socks:
            try:
                s.sendall(b" ")
                s.settimeout(0.01)
                try:
                    if s.recv(1) == b"":
                        raise OSError
                    cut.append(time.monotonic() - t0)  # got a response: cut off
                    s.close()
                    continue
                except socket.timeout:
                    pass
                alive.append((s, t0))
            except OSError:
                cut.append(time.monotonic() - t0)
        socks = alive
    for s, _ in socks:
        s.close()
    with lock:
        results["slow body"] = cut
        codes["slow body"] = {f"{len(cut)} of {conns} cut off"}

def main():
    deadline = time.monotonic() + DURATION
    t = threading.Thread(target=trickle, args=(min(deadline, time.monotonic() + 30),))
    t.start()
    bodies = {name: make() for name, make in ATTACKS.items()}
    while time.monotonic() < deadline:
        for name, body in bodies.items():
            if time.monotonic() >= deadline:
                break
            send(name, body)
    t.join()
    for name in list(ATTACKS) + ["slow body"]:
        xs = results.get(name) or [0.0]
        print(f"ATTACK {name:14s} n={len(results.get(name) or []):5d} p50={statistics.median(xs)*1000:8.1f}ms max={max(xs)*1000:8.1f}ms seen={sorted(codes.get(name, []))}")

main()
