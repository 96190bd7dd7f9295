#!/usr/bin/python3
"""Hostile publisher messages (issue 6): headers near the AMQP frame limit,
bytes that are not UTF-8, forged bookkeeping headers, an envelope type that
contradicts its routing key. None of them may stop a healthy subscription,
each is parked with its reason. A ctest entry of its own
(integration_hostile); shared fixtures: hsb_cases.py. Hostile messages are
published with tests/tools/rawpub.c (hsb-rawpub).
"""

import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import R, new_event_id  # noqa: E402

# The repro of issue 6: headers of about 131,000 bytes, just inside the
# negotiated frame_max of 131,072 when published, an invalid body.
POISON_PAD = 131000


def headers_of(m):
    return m["properties"].get("headers") or {}


class FrameLimitTests(BridgeCase):
    """A message whose headers fill a frame cannot poison the session."""

    def healthy_keeps_flowing(self, n, after_lines=0):
        """n valid events reach /b while the poison is around; returns their ids."""
        ids = [self.publish_event("document.updated")[0] for _ in range(n)]
        self.rx.wait_count("/b", n, T_DELIVER, what="the healthy subscription's deliveries")
        return ids

    def test_headers_filling_a_frame_parked_with_headers_dropped_and_others_flow(self):
        a = self.hook("a", ["document.uploaded"])
        b = self.hook("b", ["document.updated"])
        self.start_bridge([a, b])
        self.rawpub("document.uploaded", b"not json", message_id="evt_poison",
                    type_="document.uploaded", pad=POISON_PAD)
        m = self.drain("hsbridge.a.parked", 1)[0]
        h = headers_of(m)
        self.assertEqual(m["body"], b"not json")
        self.assertEqual(m["properties"].get("message_id"), "evt_poison")
        self.assertEqual(h.get("hsbridge-parked-reason"), "invalid_payload")
        self.assertNotIn("pad", h, "the publisher's headers must be dropped from the copy")
        self.assertIn("headers dropped", h.get("hsbridge-last-error", ""))
        self.assertIn("not valid JSON", h.get("hsbridge-last-error", ""))
        self.healthy_keeps_flowing(3)
        self.assertEqual(self.logs("connection lost"), [],
                         "the poisoned message must not drop the connection")
        self.assertEqual(self.rx.for_path("/a"), [], "the invalid body was POSTed")
        self.assert_settled(["a", "b"])

    def test_retry_copy_that_cannot_fit_is_parked_with_headers_dropped(self):
        a = self.hook("a", ["document.uploaded"])
        b = self.hook("b", ["document.updated"])
        self.rx.script("/a", [503])
        self.start_bridge([a, b])
        eid = new_event_id()
        body = json.dumps({"id": eid, "type": "document.uploaded",
                           "created_at": "2024-02-27T10:30:00Z",
                           "data": {"object": {"id": "doc_1"}}}).encode()
        # The envelope's id and type ride in the properties too: 100 bytes less pad.
        self.rawpub("document.uploaded", body, message_id=eid, type_="document.uploaded",
                    pad=POISON_PAD - 100)
        m = self.drain("hsbridge.a.parked", 1)[0]
        h = headers_of(m)
        self.assertEqual(m["body"], body)
        self.assertEqual(h.get("hsbridge-parked-reason"), "payload_too_large")
        self.assertNotIn("pad", h)
        self.assertIn("headers dropped", h.get("hsbridge-last-error", ""))
        self.assertEqual(h.get("hsbridge-attempts"), 1)
        self.assertEqual(len(self.rx.for_path("/a")), 1)
        self.healthy_keeps_flowing(2)
        self.assertEqual(self.logs("connection lost"), [])
        self.assert_settled(["a", "b"])


if __name__ == "__main__":
    unittest.main()
