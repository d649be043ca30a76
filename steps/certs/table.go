package certs

import (
	"math"
	"time"
)

// Row is one line of `certs check`: a pair, its certificate's subject and end date,
// and the problems (warn and fail messages) of its checks. It is JSON-ready.
type Row struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Path     string    `json:"path"`
	Source   Source    `json:"source"`
	Subject  string    `json:"subject,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	DaysLeft int       `json:"days_left"`
	// Status is the worst status of the pair's checks.
	Status   Status   `json:"status"`
	Problems []string `json:"problems,omitempty"`
}

// Table returns one row per pair, in order. Subject and Expires are read from the
// certificate on disk (left empty when it does not parse); DaysLeft counts whole days
// from now (negative once expired).
func Table(pairs []Pair, checks []Check, now time.Time) []Row {
	rows := make([]Row, 0, len(pairs))
	for _, p := range pairs {
		r := Row{Name: p.Name, Role: p.Role, Path: p.Cert.Path, Source: p.Cert.Source, Status: Pass}
		if st := readDisk(p.Cert.Path); st.err == nil {
			if certs, err := ParseCerts(st.data); err == nil {
				r.Subject = certs[0].Subject.String()
				r.Expires = certs[0].NotAfter.UTC()
				r.DaysLeft = int(math.Floor(certs[0].NotAfter.Sub(now).Hours() / 24))
			}
		}
		for _, c := range checks {
			if c.Pair != p.Name || c.Status == Pass {
				continue
			}
			r.Problems = append(r.Problems, c.Message)
			if c.Status == Fail || r.Status == Pass {
				r.Status = c.Status
			}
		}
		rows = append(rows, r)
	}
	return rows
}
