package gavel.enforcement

# The fraud model's calibrated probability, in bands.

fraud_score := score("model.fraud_score")

# MODEL_RISK: >= 0.9 restricts (suspends a brand-new signup), 0.7-0.9 steps up,
# 0.5-0.7 warns.
reasons contains {
	"code": "MODEL_RISK",
	"action": model_action,
	"rule": "model.fraud_score",
	"evidence": [evidence("model.fraud_score")],
} if {
	fraud_score >= 0.5
}

model_action := "suspend" if {
	fraud_score >= 0.9
	input.checkpoint == "signup"
} else := "restrict" if {
	fraud_score >= 0.9
} else := "challenge" if {
	fraud_score >= 0.7
} else := "warn"
