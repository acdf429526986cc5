"""`recommend` (docs/review.md): rules allowing exactly the egress a workload was observed using.

- `observed`: attributed flow records of a namespace or Service -> the (destination, protocol,
  port) it used, with counts; what is left out and why.
- `manifests`: those uses -> ExternalServices grouped per port and protocol and the rule that
  allows them, never wider than observed; offline validation against the CRDs.
- `render`: the manifests as commented multi-document YAML.

Pure: records in, text out; the CLI reads the store and prints.
"""

from connector.recommend.manifests import Manifest, Recommendation, check, recommend
from connector.recommend.observed import LeftOut, Observed, Target, Use, observe
from connector.recommend.render import to_yaml

__all__ = ["LeftOut", "Manifest", "Observed", "Recommendation", "Target", "Use", "check", "observe",
           "recommend", "to_yaml"]
