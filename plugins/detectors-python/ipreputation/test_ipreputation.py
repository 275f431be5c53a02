"""Unit tests of the rules; tests/detectors_test.go runs them with the same
interpreter the detector gets (python3 -m unittest discover)."""
import os
import unittest

import ipreputation as ipr


class RulesTest(unittest.TestCase):
    def setUp(self):
        self.rep = ipr.Reputation(ipr.parse_ranges(
            "198.51.100.0/25 abuse 0.9\n198.51.100.7/32 allowed 0.0  # exception\n10.1.0.0/16 office 0.1\n"))

    def test_judge(self):
        for ip, value, score in [
            ("198.51.100.9", "abuse", 0.9),
            ("198.51.100.7", "allowed", 0.0),        # the most specific range wins
            ("198.51.100.200", "documentation", ipr.SPECIAL_SCORE),
            ("10.1.2.3", "office", 0.1),             # the operator's list before the special ranges
            ("10.9.2.3", "private", ipr.SPECIAL_SCORE),
            ("127.0.0.1", "loopback", ipr.SPECIAL_SCORE),
            ("::ffff:192.168.1.1", "private", ipr.SPECIAL_SCORE),
            ("2001:db8::1", "documentation", ipr.SPECIAL_SCORE),
            ("100.64.1.1", "carrier_grade_nat", ipr.SPECIAL_SCORE),
            ("8.8.8.8", "public", 0.0),
            ("not-an-ip", "invalid", 0.3),
        ]:
            with self.subTest(ip=ip):
                got_score, got_value, evidence = self.rep.judge(ip)
                self.assertEqual((got_value, got_score), (value, score))
                self.assertIn("ip", evidence)
        self.assertIsNone(self.rep.judge(""))

    def test_parse_errors_name_the_line(self):
        for text, want in [("10.0.0.0/8 abuse", ":1:"), ("# c\n10.0.0.0/33 x 0.5", ":2:"),
                           ("10.0.0.0/8 x 1.5", "outside 0..1")]:
            with self.subTest(text=text), self.assertRaises(ValueError) as cm:
                ipr.parse_ranges(text)
            self.assertIn(want, str(cm.exception))

    def test_shipped_files_load(self):
        with open(os.path.join(ipr.HERE, "bad_ranges.txt"), encoding="utf-8") as fh:
            self.assertTrue(ipr.parse_ranges(fh.read()))
        msgs = ipr.load_messages()
        det = ipr.Detector(msgs, self.rep)
        req = msgs["DetectRequest"]()
        req.context.ip = "198.51.100.9"
        resp = det.detect(req, None)
        self.assertEqual([(s.name, s.value) for s in resp.signals], [(ipr.SIGNAL, "abuse")])
        self.assertEqual(resp.signals[0].evidence["range"], "198.51.100.0/25")
        desc = det.describe(msgs["DescribeRequest"](), None)
        self.assertEqual(list(desc.signals), [ipr.SIGNAL])

    def test_self_signed_certificate(self):
        key_pem, cert_pem, der = ipr.self_signed()
        self.assertTrue(cert_pem.startswith(b"-----BEGIN CERTIFICATE-----"))
        self.assertTrue(key_pem.startswith(b"-----BEGIN EC PRIVATE KEY-----"))
        self.assertGreater(len(der), 100)


if __name__ == "__main__":
    unittest.main()
