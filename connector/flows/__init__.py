"""Flow visibility (docs/flows.md): firewall traffic logs received, attributed to the Kubernetes
identity that held the source address at the flow's time and to the rule that decided it."""
