"""A partner's full sync through the feed, page by page (bench/feed.sh)."""
import json
import sys
import time
import urllib.request

url, token, page, expected, backend = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

ENTRIES = """query($after: String, $first: Int) {
  partnerFeed(first: $first, after: $after) {
    syncedUntil pageInfo { hasNextPage endCursor }
    edges { node { studentId changedAt changed accessBegan accessEnded { reason basis categories labels } } }
  }
}"""

# The README's worked example.
FULL = """query($after: String, $first: Int) {
  partnerFeed(first: $first, after: $after) {
    syncedUntil pageInfo { hasNextPage endCursor }
    edges { node {
      studentId changedAt changed accessBegan
      accessEnded { reason basis categories labels }
      student { id name email cases { id status notes(limit: 20) { id body labels } } }
    } }
  }
}"""


def post(query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json", "authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(req) as res:
        out = json.load(res)
    return out, time.perf_counter() - started


def sync(name, query, page):
    after, seen, pages, latencies, costs = None, [], 0, [], []
    started = time.perf_counter()
    while True:
        out, took = post(query, {"after": after, "first": page})
        if out.get("errors"):
            errors = [e for e in out["errors"] if e.get("extensions", {}).get("code") != "FORBIDDEN"]
            if errors:
                sys.exit(f"{name}: {json.dumps(errors)[:500]}")
        feed = out["data"]["partnerFeed"]
        seen.extend(e["node"]["studentId"] for e in feed["edges"])
        pages += 1
        latencies.append(took)
        costs.append(out.get("extensions", {}).get("cost"))
        if not feed["pageInfo"]["hasNextPage"]:
            break
        after = feed["pageInfo"]["endCursor"]
    total = time.perf_counter() - started
    latencies.sort()
    assert len(seen) == len(set(seen)), "a student twice"
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    print(
        f"FEED {backend} {name}: {len(seen)} students in {pages} pages of {page}: "
        f"full sync {total:.2f} s, page p50 {p50:.1f} ms p95 {p95:.1f} ms; "
        f"cost of a full page (casbin evaluations, SQL statements): {costs[0]}"
    )
    return len(seen)


n = sync("entries only", ENTRIES, page)
# Every consented, unrestricted student, once; restricted students appear only
# when a consent of theirs ended in the window (an "access ended" entry).
assert n >= expected, f"{n} of {expected} consented, unrestricted students delivered"
print(f"delivered {n} students: {expected} consented and unrestricted, {n - expected} with access ended")
# The README example reads cases and notes: 25 entries a page keeps it under
# the cost limit (lists are bounded by 20 in the estimate).
sync("with student records (README example)", FULL, 25)
