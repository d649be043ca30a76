package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of what Save writes into a plan folder.
const (
	// PatchName is the reviewable patch (secret files only named).
	PatchName = "plan.patch"
	// SavedIndexName lists the changes.
	SavedIndexName = "plan.json"
	// savedFiles holds the new content of every file, secret ones included (mode 0600).
	savedFiles = "files"
)

// savedPlan is plan.json.
type savedPlan struct {
	Version int           `json:"version"`
	Changes []savedChange `json:"changes"`
}

type savedChange struct {
	Path    string    `json:"path"`
	Existed bool      `json:"existed"`
	OldHash string    `json:"oldHash,omitempty"`
	NewHash string    `json:"newHash"`
	Mode    OctalMode `json:"mode"`
	ModeSet bool      `json:"modeSet,omitempty"`
	DirMode OctalMode `json:"dirMode,omitempty"`
	Secret  bool      `json:"secret,omitempty"`
	Reasons []string  `json:"reasons,omitempty"`
}

// Save writes the plan into dir (made with mode 0700, it must be empty or absent) so
// that `apply --plan DIR` can apply what was reviewed: plan.patch (secrets named only),
// plan.json, and files/<path> with the new content of every file, secret ones
// included, each with mode 0600. Keep dir on the node: it holds the secrets.
func (p *Plan) Save(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("plan folder %s is not empty; choose a new folder so an older plan is not mixed in", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create plan folder %s: %w", dir, err)
	}
	sp := savedPlan{Version: 1}
	for _, c := range p.Changes {
		sp.Changes = append(sp.Changes, savedChange{Path: c.Path, Existed: c.Existed, OldHash: c.OldHash,
			NewHash: c.NewHash(), Mode: OctalMode(c.Mode.Perm()), ModeSet: c.ModeSet,
			DirMode: OctalMode(c.DirMode.Perm()), Secret: c.Secret, Reasons: c.Reasons})
		file := filepath.Join(dir, savedFiles, filepath.FromSlash(c.Path))
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return fmt.Errorf("save %s: %w", c.Path, err)
		}
		if err := os.WriteFile(file, c.New, 0o600); err != nil {
			return fmt.Errorf("save %s: %w", c.Path, err)
		}
	}
	data, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SavedIndexName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PatchName), p.Patch(), 0o600); err != nil {
		return fmt.Errorf("save patch: %w", err)
	}
	return nil
}

// Load reads a plan that Save wrote into dir, for files under root. It reads each
// replaced file's current content as Old and refuses (ErrStale) a file that changed
// since the plan was saved, or a saved file whose content no longer matches plan.json.
func Load(dir, root string) (*Plan, error) {
	data, err := os.ReadFile(filepath.Join(dir, SavedIndexName))
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w; give the folder that `plan --out` wrote", dir, err)
	}
	var sp savedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("read plan %s: %w", filepath.Join(dir, SavedIndexName), err)
	}
	if sp.Version != 1 {
		return nil, fmt.Errorf("plan %s has version %d, this etcd-harden reads version 1", dir, sp.Version)
	}
	p := New(root)
	var errs []error
	for _, s := range sp.Changes {
		c, err := p.loadChange(dir, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *Plan) loadChange(dir string, s savedChange) (*Change, error) {
	rel, err := CleanPath(s.Path)
	if err != nil {
		return nil, err
	}
	saved := filepath.Join(dir, savedFiles, filepath.FromSlash(rel))
	nw, err := os.ReadFile(saved)
	if err != nil {
		return nil, fmt.Errorf("read planned content of %s: %w", rel, err)
	}
	if hashOf(nw) != s.NewHash {
		return nil, fmt.Errorf("%s does not match the hash in %s; the plan folder was altered after review, plan again", saved, SavedIndexName)
	}
	c := &Change{Path: rel, Existed: s.Existed, OldHash: s.OldHash, New: nw, Mode: fs.FileMode(s.Mode),
		ModeSet: s.ModeSet, DirMode: fs.FileMode(s.DirMode), Secret: s.Secret, Reasons: s.Reasons}
	old, info, err := p.readDisk(rel)
	switch {
	case !s.Existed && err == nil:
		return nil, fmt.Errorf("%s was created after the plan was made; plan again: %w", diskPath(p.Root, rel), ErrStale)
	case !s.Existed && errors.Is(err, fs.ErrNotExist):
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s was removed after the plan was made; plan again: %w", diskPath(p.Root, rel), ErrStale)
	case err != nil:
		return nil, err
	case hashOf(old) != s.OldHash:
		return nil, fmt.Errorf("%s changed after the plan was made; plan again so you review what will really change: %w", diskPath(p.Root, rel), ErrStale)
	}
	c.Old, c.OldMode = old, info.Mode().Perm()
	if !c.ModeSet {
		c.Mode = c.OldMode
	}
	return c, nil
}
