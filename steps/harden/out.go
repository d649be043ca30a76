package harden

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// What WriteOut writes into a plan folder. Only SecretsDir holds secrets; every other
// file can be reviewed, committed or attached to a change request.
const (
	// PatchFile is the plan as a unified diff that `git apply` and `patch -p1` accept
	// in the root; secret files are only named in comment lines.
	PatchFile = "changes.patch"
	// ReviewFile says what changes and why, the CIS checks before and after, and the
	// steps left to the user.
	ReviewFile = "REVIEW.md"
	// KubeadmFile is the same hardening as kubeadm ClusterConfiguration fields.
	KubeadmFile = "kubeadm-patch.yaml"
	// IndexFile is what ReadOut rebuilds the plan from: every change with its hashes,
	// modes and reasons, and the new content of the files that hold no secret.
	IndexFile = "plan.json"
	// SecretsDir holds the new content of secret files (keys, the encryption config)
	// laid out as under the root; the folders are 0700, the files 0600.
	SecretsDir = "secrets"
	// GitignoreFile keeps SecretsDir out of git.
	GitignoreFile = ".gitignore"
)

// indexFormat names plan.json's format; a folder whose plan.json has it was written by
// WriteOut.
const indexFormat = "etcd-harden-plan"

// Errors of WriteOut and ReadOut; match with errors.Is.
var (
	// ErrPlanExists: the folder holds a plan written earlier and WriteOptions.Replace is
	// false.
	ErrPlanExists = errors.New("the folder holds an earlier plan")
	// ErrNotPlanFolder: the folder is not empty and was not written by WriteOut.
	ErrNotPlanFolder = errors.New("the folder is not a plan folder")
	// ErrAltered: the plan folder changed after WriteOut wrote it.
	ErrAltered = errors.New("the plan folder was altered after it was written")
	// ErrOtherRoot: the plan was made for the files under another root.
	ErrOtherRoot = errors.New("the plan was made for another root")
)

// WriteOptions tune WriteOut.
type WriteOptions struct {
	// Replace lets WriteOut replace a folder that holds a plan it wrote earlier. A
	// folder with anything else in it is never replaced.
	Replace bool
}

// savedPlan is plan.json.
type savedPlan struct {
	Format  string        `json:"format"`
	Version int           `json:"version"`
	Root    string        `json:"root"`
	Created time.Time     `json:"created"`
	Changes []savedChange `json:"changes"`
}

type savedChange struct {
	Path    string         `json:"path"`
	Existed bool           `json:"existed"`
	OldHash string         `json:"oldHash,omitempty"`
	NewHash string         `json:"newHash"`
	Mode    plan.OctalMode `json:"mode"`
	ModeSet bool           `json:"modeSet,omitempty"`
	DirMode plan.OctalMode `json:"dirMode,omitempty"`
	Secret  bool           `json:"secret,omitempty"`
	Reasons []string       `json:"reasons,omitempty"`
	// OldMode is the mode the file or folder had when planned.
	OldMode plan.OctalMode `json:"oldMode,omitempty"`
	// ModeOnly changes only the mode (see plan.Chmod): no content is saved, the file's
	// own is used (whose hash is OldHash); Dir marks a folder.
	ModeOnly bool `json:"modeOnly,omitempty"`
	Dir      bool `json:"dir,omitempty"`
	// Content is the new content of a file that holds no secret (UTF-8 text);
	// ContentBase64 is used instead for anything else.
	Content       *string `json:"content,omitempty"`
	ContentBase64 string  `json:"contentBase64,omitempty"`
	// SecretFile is where a secret file's new content is, relative to the plan folder.
	SecretFile string `json:"secretFile,omitempty"`
}

// WriteOut writes r into dir: PatchFile, ReviewFile, KubeadmFile, IndexFile,
// GitignoreFile and SecretsDir. Secrets go to SecretsDir only. dir must be absent,
// empty, or (with o.Replace) a plan folder WriteOut wrote before. Everything is first
// written into a temporary sibling folder, which then takes dir's place by rename, so
// dir never holds half a plan and an earlier plan is kept when writing fails.
func WriteOut(dir string, r *Result, o WriteOptions) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	exists, err := checkOutDir(dir, o)
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("write the plan next to %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := writeFiles(tmp, r); err != nil {
		return fmt.Errorf("write the plan into %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return swapIn(tmp, dir, exists)
}

// checkOutDir says whether dir exists, refusing a folder that is not ours.
func checkOutDir(dir string, o WriteOptions) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a folder; choose a new folder for the plan", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		return true, nil
	}
	var sp savedPlan
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil || json.Unmarshal(data, &sp) != nil || sp.Format != indexFormat {
		return false, fmt.Errorf("%s is not empty and holds no plan written by etcd-harden; choose a new or empty folder: %w", dir, ErrNotPlanFolder)
	}
	if !o.Replace {
		return false, fmt.Errorf("%s holds a plan written on %s; choose another folder or replace it: %w", dir, sp.Created.Format(time.RFC3339), ErrPlanExists)
	}
	return true, nil
}

// swapIn puts the folder tmp in dir's place; an existing dir is moved aside first and
// put back when the rename fails.
func swapIn(tmp, dir string, exists bool) error {
	if !exists {
		return os.Rename(tmp, dir)
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if e := os.Rename(old, dir); e != nil {
			return fmt.Errorf("replace %s: %w; the earlier plan is in %s", dir, err, old)
		}
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	return os.RemoveAll(old)
}

func writeFiles(dir string, r *Result) error {
	sp := savedPlan{Format: indexFormat, Version: 1, Root: r.Plan.Root, Created: r.Now.UTC(), Changes: []savedChange{}}
	for _, c := range r.Plan.Changes {
		sc := savedChange{Path: c.Path, Existed: c.Existed, OldHash: c.OldHash, NewHash: c.NewHash(),
			Mode: plan.OctalMode(c.Mode.Perm()), ModeSet: c.ModeSet, DirMode: plan.OctalMode(c.DirMode.Perm()),
			Secret: c.Secret, Reasons: c.Reasons, OldMode: plan.OctalMode(c.OldMode.Perm()), ModeOnly: c.ModeOnly(), Dir: c.Dir}
		switch {
		case sc.ModeOnly: // the content stays on the node: a key's never reaches the plan folder
		case c.Secret:
			sc.SecretFile = SecretsDir + "/" + c.Path
			if err := writeSecret(dir, c); err != nil {
				return err
			}
		case utf8.Valid(c.New):
			s := string(c.New)
			sc.Content = &s
		default:
			sc.ContentBase64 = base64.StdEncoding.EncodeToString(c.New)
		}
		sp.Changes = append(sp.Changes, sc)
	}
	if err := writeCluster(dir, r); err != nil {
		return err
	}
	index, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	kubeadm, err := KubeadmPatch(r)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{PatchFile, r.Plan.Patch()},
		{ReviewFile, Review(r)},
		{KubeadmFile, kubeadm},
		{IndexFile, append(index, '\n')},
		{GitignoreFile, []byte("# Keys and the encryption config: keep them on the node, never commit them.\n" + SecretsDir + "/\n")},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeSecret writes a secret file under SecretsDir: folders 0700, the file 0600.
func writeSecret(dir string, c *plan.Change) error {
	target := filepath.Join(dir, SecretsDir, filepath.FromSlash(c.Path))
	for d := filepath.Dir(target); ; d = filepath.Dir(d) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
		if d == filepath.Join(dir, SecretsDir) || d == dir {
			break
		}
	}
	if err := os.WriteFile(target, c.New, 0o600); err != nil {
		return err
	}
	return os.Chmod(target, 0o600)
}

// ReadOut rebuilds the plan that WriteOut wrote into dir, for the files under root, so
// that `apply --plan DIR` applies exactly what was reviewed. It refuses (wrapping
// ErrOtherRoot) a plan made for another root, and (wrapping ErrAltered) a folder that
// changed after it was written: a secret file or plan.json's content that no longer
// matches its hash, or a changes.patch that is not the patch of the plan in plan.json.
// It then compares the node with the plan (plan.Plan.Check): a file that changed,
// appeared or disappeared since is refused (plan.ErrStale); a node already as the plan
// leaves it (plan.ErrAlreadyApplied) or partly so (plan.ErrPartlyApplied) is reported
// with the plan itself, so that the caller can say so and find the apply's backup.
func ReadOut(dir, root string) (*plan.Plan, error) {
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("read the plan in %s: %w; give the folder that `etcd-harden plan --out` wrote", dir, err)
	}
	var sp savedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", filepath.Join(dir, IndexFile), err, ErrAltered)
	}
	if sp.Format != indexFormat || sp.Version != 1 {
		return nil, fmt.Errorf("%s is not a plan of this etcd-harden (format %q version %d; expected %q version 1); plan again",
			filepath.Join(dir, IndexFile), sp.Format, sp.Version, indexFormat)
	}
	if filepath.Clean(sp.Root) != filepath.Clean(root) {
		return nil, fmt.Errorf("the plan in %s was made for the files under %s, not %s: its paths and hashes are that node's; apply it with --root %s, or make a plan for %s with `etcd-harden plan --root %s --out DIR`; nothing was written: %w",
			dir, sp.Root, root, sp.Root, root, root, ErrOtherRoot)
	}
	p := plan.New(root)
	var errs []error
	for _, sc := range sp.Changes {
		c, err := readChange(dir, root, sc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	patch, err := os.ReadFile(filepath.Join(dir, PatchFile))
	if err != nil {
		return nil, fmt.Errorf("read the reviewed patch: %w", err)
	}
	if err := p.Check(); errors.Is(err, plan.ErrAlreadyApplied) || errors.Is(err, plan.ErrPartlyApplied) {
		return p, err // the patch needs the old content, which is gone
	} else if err != nil {
		return nil, err
	}
	if !bytes.Equal(patch, p.Patch()) {
		return nil, fmt.Errorf("%s is not the patch of the plan in %s, so what was reviewed is not what would be applied; plan again: %w",
			filepath.Join(dir, PatchFile), IndexFile, ErrAltered)
	}
	return p, nil
}

// readChange rebuilds one change; the old content is read from the node when it is
// still the one planned (plan.Plan.Check judges the rest).
func readChange(dir, root string, sc savedChange) (*plan.Change, error) {
	rel, err := plan.CleanPath(sc.Path)
	if err != nil {
		return nil, fmt.Errorf("%s lists %q: %w", IndexFile, sc.Path, err)
	}
	c := &plan.Change{Path: rel, Existed: sc.Existed, OldHash: sc.OldHash, Mode: fs.FileMode(sc.Mode), OldMode: fs.FileMode(sc.OldMode),
		ModeSet: sc.ModeSet, DirMode: fs.FileMode(sc.DirMode), Secret: sc.Secret, Dir: sc.Dir, Reasons: sc.Reasons}
	disk := filepath.Join(root, filepath.FromSlash(rel))
	if sc.Dir {
		return c, nil
	}
	old, err := os.ReadFile(disk)
	if sc.Existed && err == nil && hashOf(old) == sc.OldHash {
		c.Old = old
	}
	if sc.ModeOnly {
		if sc.NewHash != sc.OldHash {
			return nil, fmt.Errorf("%s: the mode change of %s names two contents: %w", IndexFile, rel, ErrAltered)
		}
		c.New = old
		if hashOf(old) != sc.OldHash {
			c.New = []byte{} // changed since: Check names it
		}
		return c, nil
	}
	if c.New, err = savedContent(dir, rel, sc); err != nil {
		return nil, err
	}
	if hashOf(c.New) != sc.NewHash {
		return nil, fmt.Errorf("the planned content of %s does not match its hash in %s; plan again: %w", rel, IndexFile, ErrAltered)
	}
	if sc.OldMode == 0 && sc.Existed { // a plan.json from before oldMode was saved
		if fi, err := os.Stat(disk); err == nil {
			c.OldMode = fi.Mode().Perm()
		}
	}
	if !c.ModeSet {
		c.Mode = c.OldMode
	}
	return c, nil
}

// savedContent returns the planned content of rel: from SecretsDir for a secret file,
// else from plan.json.
func savedContent(dir, rel string, sc savedChange) ([]byte, error) {
	switch {
	case sc.Secret:
		f := filepath.Join(dir, SecretsDir, filepath.FromSlash(rel))
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read the planned secret file for %s: %w; the plan folder must be used whole, on the node it was made on", rel, err)
		}
		return data, nil
	case sc.Content != nil:
		return []byte(*sc.Content), nil
	case sc.ContentBase64 != "":
		data, err := base64.StdEncoding.DecodeString(sc.ContentBase64)
		if err != nil {
			return nil, fmt.Errorf("%s: the content of %s: %w: %w", IndexFile, rel, err, ErrAltered)
		}
		return data, nil
	}
	return []byte{}, nil
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
