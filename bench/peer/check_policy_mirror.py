#!/usr/bin/env python3
"""Compare peer_private.practitioner_allows(rel, class) (peer.sql) with Confide's policy
file, cell by cell, for role practitioner: allow <=> true; redact / deny / no rule <=> false.

Usage: check_policy_mirror.py [policy.csv] [db_url]
  policy.csv  default: $CONFIDE_DIR/src/policy/default_policy.csv, CONFIDE_DIR defaulting
              to the current directory (the Confide checkout root)
  db_url      default: postgres://postgres@$PG_SERVER/peer_confide (PG_SERVER 127.0.0.1:5432)

Also fails when the policy names a field class the peer does not know, or gives the
practitioner a field-class rule for a relation the peer does not model: either means
peer.sql must be updated. Exit status 1 on any disagreement.
"""
import os
import subprocess
import sys

confide_dir = os.path.abspath(os.environ.get("CONFIDE_DIR") or os.getcwd())
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(confide_dir, "src", "policy", "default_policy.csv")
db = sys.argv[2] if len(sys.argv) > 2 else "postgres://postgres@%s/peer_confide" % os.environ.get(
    "PG_SERVER", "127.0.0.1:5432")
if not os.path.isfile(path):
    sys.exit("%s not found: run from the Confide checkout root, set CONFIDE_DIR, or pass the policy file" % path)
CLASSES = ["IDENTITY", "CONTACT", "DEMOGRAPHIC", "ACADEMIC", "TRUSTED_CONTACTS", "SUPPORT_SUMMARY",
           "SUMMARY_TEXT", "ADJUSTMENTS", "CASE_NOTES", "RISK", "THIRD_PARTY", "CONSENTS", "RISK_EXCEPTIONS"]
RELS = ["own", "other", "any", "restricted"]
# Classes and relations the policy has gained since this harness was written
# (DIRECTORY is the staff directory listing; a case's assignee and a note's author
# are read under SUPPORT_SUMMARY and CASE_NOTES),
# none of which the Q2 page reads (its 1,524 fields are all in CLASSES), so the
# peer needs no mirror of them; the equivalence check still compares every
# field Q2 returns. break_glass applies only to a case opened by id under an
# active emergency grant (never to a list), and registered only to
# RISK_EXCEPTIONS (a student's risk exceptions, not on the page).
NOT_ON_Q2 = {"CALLER", "EMERGENCY_DISCLOSURES", "FEED_ENTRIES", "LEGAL_AUTHORITIES", "RESTRICTIONS",
             "CHANGE_HISTORY", "AUDIT_TRAIL", "RETENTION", "ERASURE_REQUESTS", "SUBJECT_ACCESS",
             "RESEARCH_EXTRACT", "MONITORING", "OPERATIONS", "DISCLOSURES", "STATISTICS",
             "CONCERN_NOTICE", "DIRECTORY"}
NOT_ON_Q2_RELS = {"break_glass", "registered"}
ignored = 0
rules = {}
bad = 0
for line in open(path):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    cols = [c.strip() for c in line.split(",")]
    if cols[0] != "p" or len(cols) < 5:
        continue
    role, rel, obj, outcome = cols[1:5]
    if obj in NOT_ON_Q2 or (rel in NOT_ON_Q2_RELS and role == "practitioner"):
        ignored += 1
        continue
    if obj.isupper() and obj not in CLASSES:      # field classes are upper case, actions lower
        bad += 1
        print("NOT MIRRORED: field class %s (%s) is not known to peer.sql" % (obj, line))
    if role != "practitioner" or obj not in CLASSES:
        continue
    if rel not in RELS and rel != "*":
        bad += 1
        print("NOT MIRRORED: relation %s (%s) is not modelled by peer.sql" % (rel, line))
    rules[(rel, obj)] = outcome
sql = " union all ".join("select '%s', '%s', peer_private.practitioner_allows('%s', '%s')" % (r, c, r, c)
                         for r in RELS for c in CLASSES)
out = subprocess.run(["psql", db, "-AtF,", "-c", sql], check=True, capture_output=True, text=True).stdout
for row in out.split():
    rel, cls, allowed = row.split(",")
    outcome = rules.get((rel, cls)) or rules.get(("*", cls)) or "none (deny)"
    if (outcome == "allow") != (allowed == "t"):
        bad += 1
        print("MISMATCH %s %s: policy %s, SQL %s" % (rel, cls, outcome, allowed))
print("%d cells compared (role practitioner, relations %s, %d classes): %s"
      % (len(RELS) * len(CLASSES), "/".join(RELS), len(CLASSES), "all agree" if not bad else "%d disagree" % bad))
print("%d policy lines not on the Q2 page, not mirrored: classes %s; practitioner relations %s"
      % (ignored, ", ".join(sorted(NOT_ON_Q2)), ", ".join(sorted(NOT_ON_Q2_RELS))))
sys.exit(1 if bad else 0)
