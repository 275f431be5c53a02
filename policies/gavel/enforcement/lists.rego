package gavel.enforcement

# Runtime lists: input.lists holds the operator-curated list entries the
# request matched ({list, kind, purpose, field, action, exempts, entry, note}).
#
# A block-list hit is the operator's decision, not the caller's: its evidence
# has source "list", so the caller cap does not apply and a list may suspend.
# The strongest action among the hits wins. An allow-list hit exempts the
# reason codes the list names (a trusted device exempts DEVICE_SHARED); the
# ladder's reasons and operational reasons are never exempted.

block_list_actions := {"warn", "challenge", "restrict", "suspend"}

list_block_hits contains m if {
	some m in input.lists
	m.purpose == "block"
	m.action in block_list_actions
}

reasons contains {
	"code": "LIST_BLOCK",
	"action": actions[max({severity[m.action] | some m in list_block_hits})],
	"rule": "lists.block",
	"evidence": [{
		"signal": "lists",
		"source": "list",
		"list": m.list,
		"field": m.field,
		"entry": m.entry,
		"note": m.note,
		"action": m.action,
	} |
		some m in list_block_hits
	],
} if {
	count(list_block_hits) > 0
}

# The reason codes allow-list hits exempt.
list_exempt contains code if {
	some m in input.lists
	m.purpose == "allow"
	some code in m.exempts
	not code in operational_codes
}
