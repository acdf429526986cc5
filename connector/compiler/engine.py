"""Former name of `connector.compiler.incremental`, kept while importers move to the package."""

from connector.compiler.incremental import Compiler as Compiler
