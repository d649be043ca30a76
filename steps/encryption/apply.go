package encryption

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/manifest"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Flags this step reads and sets on kube-apiserver.
const (
	ConfigFlag       = "encryption-provider-config"
	ReloadFlag       = "encryption-provider-config-automatic-reload"
	legacyConfigFlag = "experimental-encryption-provider-config"
)

// ErrNoAPIServer is returned when kube-apiserver.yaml is not in the manifests folder.
var ErrNoAPIServer = errors.New("kube-apiserver manifest missing")

// Current is the config kube-apiserver.yaml points at.
type Current struct {
	ContainerPath string // the flag's value
	HostPath      string // where the file is on the node (under the root)
	RelPath       string // HostPath relative to the root, for the plan
	// Mounted is true when a hostPath volume of the pod covers ContainerPath; when false
	// HostPath is the same path under the root.
	Mounted bool
	// Missing is true when the file does not exist (the flag names a placeholder or a
	// file that was never written).
	Missing bool
	Config  *Config // nil when Missing
	// Warnings are problems kube-apiserver tolerates only with care (KMS v1).
	Warnings []string
}

// Locate finds --encryption-provider-config in the kube-apiserver manifest and reads the
// file it names. It returns nil, nil when the flag is not set. A file kube-apiserver
// would refuse is an error naming the file (wrapping ErrInvalidConfig).
func Locate(s *discover.State) (*Current, error) {
	return locate(s, func(rel, host string) ([]byte, error) { return os.ReadFile(host) })
}

func locate(s *discover.State, read func(rel, host string) ([]byte, error)) (*Current, error) {
	if s == nil || s.APIServer == nil {
		return nil, noAPIServer(s)
	}
	value, ok := s.APIServer.Flag(ConfigFlag)
	if !ok || value == "" {
		return nil, nil
	}
	cur := &Current{ContainerPath: value}
	_, cur.Mounted = s.APIServer.HostPath(value)
	if !path.IsAbs(value) {
		cur.Missing = true
		return cur, nil
	}
	cur.HostPath = s.HostFile(s.APIServer, value)
	cur.RelPath = s.Layout.Rel(cur.HostPath)
	data, err := read(cur.RelPath, cur.HostPath)
	if errors.Is(err, fs.ErrNotExist) {
		cur.Missing = true
		return cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the encryption config %s (named by --%s in %s): %w", cur.HostPath, ConfigFlag, s.APIServer.Path, err)
	}
	cfg, warnings, err := Judge(context.Background(), cur.HostPath, data, false)
	if err != nil {
		return nil, err
	}
	cur.Config, cur.Warnings = cfg, warnings
	return cur, nil
}

func noAPIServer(s *discover.State) error {
	dir := "the manifests folder"
	if s != nil && s.Layout.ManifestsDir != "" {
		dir = s.Layout.ManifestsDir
	}
	return fmt.Errorf("%s has no %s: encryption at rest is set on kube-apiserver, so run this step on a control-plane node (or point --manifests-dir at its manifests): %w", dir, discover.APIServerFile, ErrNoAPIServer)
}

// Result is what step 1 planned. No field holds a key in clear: Key prints masked, and
// ConfigYAML has every secret masked.
type Result struct {
	Action    Action   `json:"action"`
	Provider  Provider `json:"provider"`
	KeyName   string   `json:"keyName"`
	Key       Key      `json:"key"` // the new key (zero for kms or a kept config)
	Resources []string `json:"resources"`
	// ConfigPath is the config's path in the kube-apiserver container (the flag's value).
	ConfigPath string `json:"configPath"`
	// ConfigFile is the config's host path under the root.
	ConfigFile string `json:"configFile"`
	// ConfigYAML is the planned config with secrets masked, for display.
	ConfigYAML string `json:"configYAML"`
	// OldKeys are the ids ("aescbc:key1", "kms:v2:name") kept for reading older values.
	OldKeys []string `json:"oldKeys,omitempty"`
	// KeptKeys are the keys of other configs of the node (the file the plan replaces,
	// backups, an earlier plan) kept for reads, so no value in etcd becomes unreadable.
	KeptKeys []KeptKey `json:"keptKeys,omitempty"`
	// DroppedKeys are keys of copies (backups, earlier plans) left out because the scan
	// of etcd found no value written with them.
	DroppedKeys []KeptKey `json:"droppedKeys,omitempty"`
	// RetiredKeys are the ids of the keys removed from the config (Options.RetireKeys):
	// the scan of etcd found no value stored with them.
	RetiredKeys []string `json:"retiredKeys,omitempty"`
	// EtcdScanned is true when the key names in etcd were checked before planning.
	EtcdScanned bool `json:"etcdScanned"`
	// Warnings explain what the step noticed or moved (identity moved last, a flag
	// removed from etcd.yaml, deprecated KMS v1).
	Warnings []string `json:"warnings,omitempty"`
	// RemainingSteps are what the user must still do after applying the plan.
	RemainingSteps []string `json:"remainingSteps,omitempty"`
}

// Apply decides what to do with the encryption config and adds it to p: the config file
// (mode 0600 in a 0700 folder, marked secret), the kube-apiserver flag, volume and mount,
// and the removal of a misplaced --encryption-provider-config from etcd.yaml. etcd.yaml is
// never changed otherwise. Nothing is written to disk.
func Apply(p *plan.Plan, s *discover.State, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	cur, err := locate(s, func(rel, host string) ([]byte, error) {
		if data, err := p.Current(rel); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return data, err
		}
		return os.ReadFile(host)
	})
	if err != nil {
		return nil, err
	}
	var key Key
	if o.Provider != KMS {
		if key, err = NewKey(o.Rand); err != nil {
			return nil, err
		}
	}
	var existing *Config
	var warnings []string
	if cur != nil && !cur.Missing {
		existing = cur.Config
		warnings = append(warnings, cur.Warnings...)
	} else if cur != nil {
		warnings = append(warnings, fmt.Sprintf("--%s in %s names %s, which does not exist; a new config is made at %s and the flag points to it", ConfigFlag, s.APIServer.RelPath, cur.ContainerPath, o.ConfigPath))
	}
	skip, writeHost := "", s.HostFile(s.APIServer, o.ConfigPath)
	if existing != nil {
		skip, writeHost = cur.HostPath, cur.HostPath
	}
	known, kw, err := findKnown(s, skip, writeHost, o.PlanDir)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, kw...)
	o.taken = takenNames(known)
	d, err := decide(existing, o, key)
	if err != nil {
		return nil, err
	}
	if len(o.RetireKeys) > 0 && d.Action == ActionKept {
		// Not kept after all: its notes ("nothing to change") would contradict the plan.
		d = retiring(existing)
	}
	warnings = append(warnings, d.Notes...)
	inUse, scanErr := scanInUse(o, d.Config, known)
	if scanErr != nil {
		warnings = append(warnings, scanErr.Error())
	}
	var kept, dropped []KeptKey
	if d.Action == ActionKept {
		warnings = append(warnings, keptConfigGaps(d.Config, known, inUse)...)
	} else {
		if kept, dropped, err = keepKnownKeys(d.Config, known, inUse); err != nil {
			return nil, err
		}
		for _, k := range kept {
			d.OldKeys = append(d.OldKeys, k.ID)
		}
		if d.Action == ActionNew && len(kept) > 0 {
			d.Action = ActionRotated
		}
	}
	var retired []string
	if len(o.RetireKeys) > 0 {
		r, err := retire(d.Config, o.RetireKeys, inUse, scanErr, known)
		if err != nil {
			return nil, err
		}
		retired, warnings = r.IDs, append(warnings, r.Notes...)
		kept = slices.DeleteFunc(kept, func(k KeptKey) bool { return slices.Contains(retired, k.ID) })
		d.OldKeys = slices.DeleteFunc(d.OldKeys, func(id string) bool { return slices.Contains(retired, id) })
	}
	res := &Result{Action: d.Action, Provider: d.Provider, KeyName: d.KeyName, Resources: o.Resources, OldKeys: d.OldKeys,
		KeptKeys: kept, DroppedKeys: dropped, RetiredKeys: retired, EtcdScanned: inUse != nil}
	if (d.Action == ActionNew || d.Action == ActionRotated) && d.Provider != KMS {
		res.Key = key
	}
	containerPath, hostPath, mounted := o.ConfigPath, "", false
	if existing != nil {
		containerPath, hostPath, mounted = cur.ContainerPath, cur.HostPath, cur.Mounted
	} else {
		hostPath = s.HostFile(s.APIServer, containerPath)
		_, mounted = s.APIServer.HostPath(containerPath)
	}
	res.ConfigPath, res.ConfigFile = containerPath, hostPath
	header := fileHeader(o)
	if d.Action == ActionKept {
		res.ConfigYAML = d.Config.MaskedYAML("") // the file as it is, not ours
	} else {
		res.ConfigYAML = d.Config.MaskedYAML(header)
	}
	if d.Action != ActionKept {
		w, err := d.Config.Validate(context.Background(), o.AutomaticReload)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.Path, ce.Planned = hostPath, true
			}
			return nil, err
		}
		warnings = append(warnings, w...)
		if existing != nil && (existing.Legacy || existing.Comments) {
			warnings = append(warnings, fmt.Sprintf("%s is rewritten in the current apiserver.config.k8s.io/v1 form; comments in it are not kept", hostPath))
		}
		data, err := d.Config.YAML(header)
		if err != nil {
			return nil, err
		}
		reason := "encryption at rest: " + string(d.Action) + " config with " + string(d.Provider) + " key " + d.KeyName
		if len(retired) > 0 {
			reason += "; retired " + strings.Join(retired, ", ")
		}
		if err := p.Create(s.Layout.Rel(hostPath), data, 0o600, 0o700, true, reason); err != nil {
			return nil, fmt.Errorf("plan the encryption config %s: %w", hostPath, err)
		}
	}
	if err := editAPIServer(p, s, o, containerPath, mounted); err != nil {
		return nil, err
	}
	w, err := fixEtcd(p, s)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(warnings, w...)
	if s.APIServer.FlagCount(legacyConfigFlag) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s sets --%s, which kube-apiserver removed in 1.13; remove it", s.APIServer.RelPath, legacyConfigFlag))
	}
	if d.Action != ActionKept && fileMounted(s.APIServer, containerPath) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s mounts %s as a single file: the running kube-apiserver keeps seeing the old file after it is replaced (automatic reload cannot see it either), so restart kube-apiserver; mounting the folder instead avoids this", s.APIServer.RelPath, containerPath))
	}
	res.RemainingSteps = remainingSteps(res, o, "/"+s.Layout.Rel(hostPath))
	return res, nil
}

func fileHeader(o Options) string {
	return "Written by etcd-harden on " + o.Now.UTC().Format("2006-01-02") + ": encryption at rest for kube-apiserver.\n" +
		"It holds keys: keep it mode 0600 and out of backups that leave the node.\n" +
		"With several control-plane nodes it must be identical on every one of them."
}

// editAPIServer sets the flag (in place when present) and mounts the config's folder
// read-only unless a hostPath mount already covers it.
func editAPIServer(p *plan.Plan, s *discover.State, o Options, containerPath string, mounted bool) error {
	m := s.APIServer
	reason := "encryption at rest: kube-apiserver reads " + containerPath
	err := p.Edit(m.RelPath, reason, func(old []byte) ([]byte, error) {
		e, err := manifest.NewEditor(m.RelPath, old)
		if err != nil {
			return nil, err
		}
		if v, ok := m.Flag(ConfigFlag); !ok || v != containerPath || m.FlagCount(ConfigFlag) > 1 {
			if err := e.SetFlag(m.Container, ConfigFlag, containerPath); err != nil {
				return nil, err
			}
		}
		if o.AutomaticReload {
			if v, ok := m.Flag(ReloadFlag); !ok || v != "true" {
				if err := e.SetFlag(m.Container, ReloadFlag, "true"); err != nil {
					return nil, err
				}
			}
		}
		if !mounted {
			dir := path.Dir(containerPath)
			err := e.EnsureHostPathMount(m.Container, manifest.HostPathMount{
				Name: volumeName(m), HostPath: dir, MountPath: dir, ReadOnly: true, Type: "DirectoryOrCreate",
			})
			if err != nil {
				return nil, err
			}
		}
		return e.Bytes(), nil
	})
	if err != nil {
		return fmt.Errorf("plan the kube-apiserver edit in %s: %w", m.Path, err)
	}
	return nil
}

func volumeName(m *discover.Manifest) string {
	used := map[string]bool{}
	for _, v := range m.Pod.Spec.Volumes {
		used[v.Name] = true
	}
	name := DefaultVolumeName
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s-%d", DefaultVolumeName, n)
	}
	return name
}

// fixEtcd removes --encryption-provider-config from etcd.yaml, where a widely copied
// guide puts it: etcd does not know the flag and refuses to start.
func fixEtcd(p *plan.Plan, s *discover.State) ([]string, error) {
	m := s.Etcd
	if m == nil || m.FlagCount(ConfigFlag) == 0 {
		return nil, nil
	}
	err := p.Edit(m.RelPath, "encryption at rest: etcd does not know --"+ConfigFlag, func(old []byte) ([]byte, error) {
		e, err := manifest.NewEditor(m.RelPath, old)
		if err != nil {
			return nil, err
		}
		if err := e.RemoveFlag(m.Container, ConfigFlag); err != nil {
			return nil, err
		}
		return e.Bytes(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan the removal of --%s from %s: %w", ConfigFlag, m.Path, err)
	}
	return []string{fmt.Sprintf("%s sets --%s, which belongs to kube-apiserver: etcd does not know the flag and will not start with it (a widely copied guide puts it there). The plan removes it; encryption at rest is configured on kube-apiserver only.", m.RelPath, ConfigFlag)}, nil
}

func remainingSteps(r *Result, o Options, nodePath string) []string {
	switch r.Action {
	case ActionKept:
		return nil
	case ActionRetired:
		return []string{
			"With several control-plane nodes the file must be identical on every control-plane node: copy " + nodePath + " unchanged to each one.",
			"Restart every kube-apiserver so it reads the config (the kubelet restarts the static pod when its manifest changes; after a change to the config alone, restart it yourself" + reloadHint(o) + ").",
			"Snapshots and backups taken before the rewrite still hold values stored with " + strings.Join(r.RetiredKeys, ", ") + ": keep the key somewhere safe as long as you keep them, or destroy them (a leaked key: take a new snapshot, then destroy the older ones).",
		}
	}
	var steps []string
	if r.Key.IsZero() {
		steps = append(steps, "Make sure the KMS v2 plugin "+r.KeyName+" listens on "+o.KMS.Endpoint+" on every control-plane node before kube-apiserver restarts: without it kube-apiserver cannot start.")
	} else {
		steps = append(steps, "Keep a copy of the key somewhere safe outside the cluster: without it the encrypted values in etcd and in every etcd snapshot cannot be read.")
	}
	steps = append(steps,
		"With several control-plane nodes the file must be identical on every control-plane node: copy "+nodePath+" unchanged to each one. To avoid a window where an apiserver cannot read values written with the new key, first roll out a version with the new key second (not first) and restart every kube-apiserver, then roll out this file and restart them again.",
		"Restart every kube-apiserver so it reads the config (the kubelet restarts the static pod when its manifest changes; after a change to the config alone, restart it yourself"+reloadHint(o)+").",
		"Rewrite the stored objects so they are encrypted with the new key: "+rewriteCommand(r.Resources)+".",
		"Check with `etcd-harden encryption status` that no value is left in plaintext or under an old key.",
	)
	if len(r.OldKeys) > 0 {
		steps = append(steps, "Then remove the old keys ("+strings.Join(r.OldKeys, ", ")+") from the config on every node (`etcd-harden plan --retire-key NAME` does it once a scan of etcd finds no value stored with it; the wizard then offers it) and restart every kube-apiserver again.")
	}
	if r.Provider == AESGCM {
		steps = append(steps, "aesgcm: rotate the key before 200,000 writes (run this step again with rotation), preferably from an automated job.")
	}
	return steps
}

func reloadHint(o Options) string {
	if o.AutomaticReload {
		return ", or wait for the automatic reload"
	}
	return ""
}

func rewriteCommand(resources []string) string {
	var cmds []string
	for _, r := range resources {
		cmds = append(cmds, "kubectl get "+r+" --all-namespaces -o json | kubectl replace -f -")
	}
	return strings.Join(cmds, "; ")
}

// fileMounted reports whether containerPath is itself a mount point (a File hostPath):
// a bind mount of one file keeps the old inode when the file is replaced by a rename.
func fileMounted(m *discover.Manifest, containerPath string) bool {
	c := m.ContainerSpec()
	if c == nil {
		return false
	}
	for _, vm := range c.VolumeMounts {
		if path.Clean(vm.MountPath) == containerPath {
			return true
		}
	}
	return false
}
