"""Pure clinical rules: renal function, regimen, taper; ``assess`` composes them."""
