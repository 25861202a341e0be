package runs

import (
	_ "embed"
	"strings"
)

// The words of Prefect's generate_slug(2) run names: coolname's two-word
// slugs are one adjective and one animal, drawn uniformly from these lists
// (coolname 5.0.0 as prefect 3.9.1 installs it, BSD licence in slugwords/,
// without Prefect's IGNORE_LIST words).
var (
	//go:embed slugwords/adjectives.txt
	adjectivesText string
	//go:embed slugwords/animals.txt
	animalsText string

	adjectives = strings.Fields(adjectivesText)
	animals    = strings.Fields(animalsText)
)
