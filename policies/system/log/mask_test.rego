package system.log_test

import data.system.log

fixed := {
	"/input/subject/profile",
	"/input/context/ip",
	"/input/context/device_id",
	"/input/context/user_agent",
	"/input/attributes",
	"/input/lists",
}

test_mask_covers_personal_data if {
	log.mask == fixed with input as {}
}

test_mask_covers_signal_and_reason_evidence if {
	event := {
		"input": {"signals": {
			"email.disposable": {"score": 1, "value": "mailinator.com", "evidence": {}},
			"linkage.shared_device": {"score": 1, "value": "3", "evidence": {"accounts": ["acct-2", "acct-3"]}},
		}},
		"result": {"action": "challenge", "reasons": [{"code": "A"}, {"code": "B"}]},
	}
	got := log.mask with input as event
	got == fixed | {
		"/input/signals/email.disposable/evidence",
		"/input/signals/linkage.shared_device/evidence",
		"/result/reasons/0/evidence",
		"/result/reasons/1/evidence",
	}
}

test_mask_keeps_what_analytics_needs if {
	kept := {"/input/checkpoint", "/input/signals", "/input/detectors", "/input/history", "/result", "/result/reasons"}
	count(kept & log.mask) == 0 with input as {}
}
