package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/harden"
)

// planFlags are the answers `plan` takes instead of prompts.
type planFlags struct {
	out, provider, keyName, certs, keyType, nodeName, advertiseIP string
	bundle                                                        string
	kmsName, kmsEndpoint                                          string
	kmsTimeout                                                    time.Duration
	resources                                                     []string
	retireKeys                                                    []string
	rotate, autoReload, yes                                       bool
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --out DIR",
		Short: "Write the hardening plan into DIR for review, without prompts",
		Long: `plan builds the whole hardening of the node under --root, as the wizard would, and
writes it into DIR without changing the node: changes.patch (the edits, accepted by git
apply and patch -p1 in the root), REVIEW.md (what changes and why, the CIS checks before
and after, the steps left to you), kubeadm-patch.yaml (the same hardening as kubeadm
ClusterConfiguration fields), plan.json, and secrets/ (keys and the encryption config,
mode 0600, ignored by git). Apply it with: etcd-harden apply --plan DIR.

It never asks anything. DIR must be new or empty; --yes replaces a plan written there
before. On a node that is hardened already it writes nothing and says so.

On a cluster of several members (read from etcd's member list) the plan is applied in
phases, and the first node's plan writes bundle/: the etcd CA and the encryption config
every other node must share. On the other nodes, plan with --bundle <that folder>.`,
		Example: `  etcd-harden plan --out /root/etcd-plan
  etcd-harden plan --out plan --provider aesgcm --resources secrets,configmaps --certs existing
  etcd-harden plan --out /root/etcd-plan --bundle /root/etcd-bundle   # a cluster's other nodes
  # once every Secret is rewritten under the new key, drop the old one
  etcd-harden plan --out plan --retire-key aescbc:key-2023`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			if err := g.resolve(); err != nil {
				return err
			}
			if o.PlanDir, err = filepath.Abs(f.out); err != nil {
				return &usageError{fmt.Errorf("--out %s: %w", f.out, err)}
			}
			return runPlan(cmd.Context(), cmd.OutOrStdout(), g, f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "Folder to write the plan into (new or empty; required)")
	fl.StringVar(&f.provider, "provider", string(encryption.Secretbox), "Encryption provider: secretbox, aesgcm, aescbc or kms")
	fl.StringSliceVar(&f.resources, "resources", encryption.DefaultResources, "Resources to encrypt, comma-separated")
	fl.StringVar(&f.keyName, "key-name", "", "Name of the new key (default key-<YYYYMMDD>)")
	fl.BoolVar(&f.rotate, "rotate", false, "Add a new key even when the existing config already encrypts")
	fl.StringArrayVar(&f.retireKeys, "retire-key", nil, "Remove an old key from the encryption config (a name, or provider:name), once a scan of etcd shows no value stored with it; repeat for more")
	fl.BoolVar(&f.autoReload, "auto-reload", false, "Set --encryption-provider-config-automatic-reload=true on kube-apiserver")
	fl.StringVar(&f.kmsName, "kms-name", "", "Name of the KMS v2 plugin (with --provider kms)")
	fl.StringVar(&f.kmsEndpoint, "kms-endpoint", "", "Socket of the KMS v2 plugin, unix:///path (with --provider kms)")
	fl.DurationVar(&f.kmsTimeout, "kms-timeout", 0, "Timeout of calls to the KMS v2 plugin (kube-apiserver's default 3s when 0)")
	fl.StringVar(&f.certs, "certs", string(harden.CertsAuto), "Certificates: auto (generate what is missing or failing), existing (use as they are), generate (re-issue every leaf)")
	fl.StringVar(&f.keyType, "key-type", "ecdsa", "Key type of generated certificates: ecdsa or rsa")
	fl.StringVar(&f.nodeName, "node-name", "", "Node name for generated server and peer certificates (default etcd's --name)")
	fl.StringVar(&f.advertiseIP, "advertise-ip", "", "Address (IP) for generated server and peer certificates (default from etcd's advertise URLs)")
	fl.BoolVar(&f.yes, "yes", false, "Replace a plan written into --out before")
	fl.StringVar(&f.bundle, "bundle", "", "On a node of a multi-member cluster other than the first: the bundle/ folder of the first node's plan (its etcd CA and encryption config)")
	return cmd
}

// options checks the flags; every mistake is a usage error.
func (f planFlags) options() (harden.Options, error) {
	usage := func(err error) (harden.Options, error) { return harden.Options{}, &usageError{err} }
	if f.out == "" {
		return usage(errors.New("--out is required: the folder to write the plan into"))
	}
	provider, err := encryption.ParseProvider(f.provider)
	if err != nil {
		return usage(fmt.Errorf("--provider: %w", err))
	}
	if provider == encryption.KMS && (f.kmsName == "" || f.kmsEndpoint == "") {
		return usage(errors.New("--provider kms needs --kms-name and --kms-endpoint"))
	}
	certsMode, err := harden.ParseCertsMode(f.certs)
	if err != nil {
		return usage(fmt.Errorf("--certs: %w", err))
	}
	keyType, err := harden.ParseKeyType(f.keyType)
	if err != nil {
		return usage(fmt.Errorf("--key-type: %w", err))
	}
	// Both become SANs of generated certificates: a name must be a DNS name, an IP an IP.
	if f.nodeName != "" {
		if err := certs.CheckName(f.nodeName); err != nil {
			return usage(fmt.Errorf("--node-name %w; give the node's name, e.g. cp1 or cp1.example.com", err))
		}
	}
	if f.advertiseIP != "" {
		if err := certs.CheckIP(f.advertiseIP); err != nil {
			return usage(fmt.Errorf("--advertise-ip %w; give the node's IP, e.g. 10.0.0.5", err))
		}
	}
	var resources []string
	for _, r := range f.resources {
		if r = strings.TrimSpace(r); r != "" {
			resources = append(resources, r)
		}
	}
	if len(resources) == 0 {
		return usage(errors.New("--resources is empty: name at least one resource, e.g. secrets"))
	}
	var retireKeys []string
	for _, v := range f.retireKeys {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k == "" || strings.ContainsAny(k, " \t") || strings.HasPrefix(k, ":") || strings.HasSuffix(k, ":") {
				return usage(fmt.Errorf("--retire-key %q: give an old key's name (key-2023) or provider:name (aescbc:key-2023)", v))
			}
			retireKeys = append(retireKeys, k)
		}
	}
	return harden.Options{
		Provider: provider, Resources: resources, KeyName: f.keyName, Rotate: f.rotate, AutoReload: f.autoReload,
		KMS:   encryption.KMSOptions{Name: f.kmsName, Endpoint: f.kmsEndpoint, Timeout: f.kmsTimeout},
		Certs: certsMode, KeyType: keyType, NodeName: f.nodeName, AdvertiseIP: f.advertiseIP,
		RetireKeys: retireKeys,
	}, nil
}

func runPlan(ctx context.Context, out io.Writer, g *globalOptions, f planFlags, o harden.Options) error {
	l := g.layout()
	s, err := discover.Load(l)
	if err != nil {
		return err
	}
	// The keys etcd's values use, over the connection the flags and these manifests give.
	o.ScanEtcd = encryption.Scanner(ctx, func() (etcdconn.Conn, error) { return etcdconn.Resolve(g.etcd, s) })
	if f.bundle != "" {
		if o.Bundle, err = harden.ReadBundle(f.bundle); err != nil {
			return &usageError{fmt.Errorf("--bundle %w", err)}
		}
	}
	members, err := observeCluster(ctx, g, s, f.bundle != "")
	if err != nil {
		return err
	}
	r, err := harden.Build(s, o)
	if err != nil {
		return err
	}
	if members != nil {
		if err := harden.AddCluster(r, members.node, members.names, members.endpoints, o.Bundle); err != nil {
			return err
		}
		if r.Cluster != nil {
			r.Cluster.Observed = members.facts
		}
	}
	if r.Plan.Empty() {
		fmt.Fprintf(out, "nothing to change: the node under %s is hardened as asked already; nothing written to %s\n", l.Root, f.out)
		printDuplicateFlags(out, r)
		if audit.Failed(r.After) {
			fmt.Fprintln(out, "Some checks fail that a plan cannot fix: run etcd-harden audit to see them.")
		}
		return nil
	}
	dir := o.PlanDir
	err = harden.WriteOut(dir, r, harden.WriteOptions{Replace: f.yes})
	if errors.Is(err, harden.ErrPlanExists) {
		return fmt.Errorf("%w; pass --yes to replace it", err)
	}
	if err != nil {
		return err
	}
	printPlanSummary(out, dir, r)
	return nil
}

func printPlanSummary(out io.Writer, dir string, r *harden.Result) {
	diffs := r.Plan.FileDiffs()
	fmt.Fprintf(out, "Plan written to %s:\n", dir)
	added, removed := 0, 0
	for _, d := range diffs {
		what := fmt.Sprintf("+%d -%d", d.Added, d.Removed)
		switch {
		case d.ModeOnly:
			what = fmt.Sprintf("mode %04o -> %04o", d.OldMode, d.Mode)
		case d.New:
			what = fmt.Sprintf("new, %04o", d.Mode.Perm())
		}
		if d.Secret && !d.ModeOnly {
			what += ", secret: in secrets/"
		}
		fmt.Fprintf(out, "  /%s  (%s)\n", d.Path, what)
		added, removed = added+d.Added, removed+d.Removed
	}
	before, after := audit.Count(r.Before), audit.Count(r.After)
	fmt.Fprintf(out, "%d files, +%d -%d lines. CIS checks failing: %d before, %d after.\n",
		len(diffs), added, removed, before[audit.Fail], after[audit.Fail])
	printDuplicateFlags(out, r)
	if e := r.Encryption; e != nil && len(e.RetiredKeys) > 0 {
		what, it := "Key", "it"
		if len(e.RetiredKeys) > 1 {
			what, it = "Keys", "them"
		}
		fmt.Fprintf(out, "%s retired: %s, removed from the encryption config: the scan of etcd found no value stored with %s.\n",
			what, strings.Join(e.RetiredKeys, ", "), it)
	}
	fmt.Fprintf(out, "Review %s and %s, then run:\n  etcd-harden apply --plan %s\n",
		filepath.Join(dir, harden.ReviewFile), filepath.Join(dir, harden.PatchFile), dir)
}

// printDuplicateFlags names the flags a manifest gives more than once, and what the
// plan leaves of them.
func printDuplicateFlags(out io.Writer, r *harden.Result) {
	finding := func(checks []audit.Check) *audit.Check {
		for i := range checks {
			if checks[i].ID == audit.IDDuplicateFlags {
				return &checks[i]
			}
		}
		return nil
	}
	before := finding(r.Before)
	if before == nil {
		return
	}
	fmt.Fprintf(out, "Warning: %s.\n", before.Detail)
	if after := finding(r.After); after != nil {
		fmt.Fprintf(out, "  After the plan: %s. %s.\n", after.Detail, after.Fix)
	} else {
		fmt.Fprintln(out, "  The plan keeps one of each, the one that takes effect.")
	}
}
