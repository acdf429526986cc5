"""Former name of `connector.compiler.findings`, kept while importers move to the package."""

from connector.compiler.findings import NamespaceStatus as NamespaceStatus
