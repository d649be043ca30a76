package backup

// The checks below are the rules the step's questions use, for the answers file
// (ui.LoadAnswers), which is checked whole before anything runs.

// CheckDest checks a backup.dest answer: an absolute folder.
func CheckDest(v string) error { return validDest(v) }

// CheckKeep checks a backup.keep answer: a whole number from 1 to 1000.
func CheckKeep(v string) error {
	_, err := parseKeep(v)
	return err
}
