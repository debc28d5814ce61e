package guard

import "math"

// textSpecials are the punctuation characters whose shares describe a text
// input's shape (quotes, brackets, operators, separators, escapes).
const textSpecials = "'\"<>/\\.;|&()=-#%*+,:@$!?[]{}~^`_"

// TextFeatureNames names the values TextFeatures returns.
func TextFeatureNames() []string {
	names := []string{"log_len", "letters", "digits", "spaces", "nonascii", "other"}
	for _, c := range textSpecials {
		names = append(names, "char_"+string(c))
	}
	return names
}

// TextFeatures are dense, model-independent properties of a text input
// (a web parameter value as the model sees it, after its own decoding):
// its log length and the shares of letters, digits, whitespace, non-ASCII,
// other control or symbol characters and each punctuation character. They
// describe a text's shape, so a guard fitted on them sees inputs whose
// shape is unlike any training input even when every token is known.
func TextFeatures(s string) []float64 {
	v := make([]float64, 6+len(textSpecials))
	n := 0
	for _, r := range s {
		n++
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			v[1]++
		case r >= '0' && r <= '9':
			v[2]++
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			v[3]++
		case r > 127:
			v[4]++
		default:
			if i := specialIndex(r); i >= 0 {
				v[6+i]++
			} else {
				v[5]++
			}
		}
	}
	d := float64(max(1, n))
	for i := 1; i < len(v); i++ {
		v[i] /= d
	}
	v[0] = math.Log1p(float64(len(s)))
	return v
}

func specialIndex(r rune) int {
	if r > 127 {
		return -1
	}
	for i := 0; i < len(textSpecials); i++ {
		if textSpecials[i] == byte(r) {
			return i
		}
	}
	return -1
}
