package encryption

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNewKeyIs32RandomBytes(t *testing.T) {
	k, err := NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(k.Reveal())
	if err != nil || len(raw) != KeySize {
		t.Fatalf("key %q: %d bytes, %v", k.Reveal(), len(raw), err)
	}
	k2, _ := NewKey(nil)
	if k2.Reveal() == k.Reveal() {
		t.Fatal("two keys are equal")
	}
}

func TestNewKeyShortRandom(t *testing.T) {
	_, err := NewKey(bytes.NewReader(make([]byte, 5)))
	if err == nil || !strings.Contains(err.Error(), "read 32 random bytes") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyNeverPrints(t *testing.T) {
	k, _ := NewKey(nil)
	secret := k.Reveal()
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("made", "key", k)
	js, _ := json.Marshal(map[string]any{"k": k, "p": &k})
	text, _ := k.MarshalText()
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", &k, &k, &k), k.String(), k.GoString(), string(js), string(text), logs.String(),
	}
	for _, o := range outs {
		if strings.Contains(o, secret) {
			t.Fatalf("key leaked in %q", o)
		}
		if !strings.Contains(o, Masked) {
			t.Fatalf("no mask in %q", o)
		}
	}
}

func TestProviderInfo(t *testing.T) {
	recommended := 0
	for _, p := range Choices() {
		label, guidance, rec := ProviderInfo(p)
		if label == "" || guidance == "" {
			t.Fatalf("%s: empty info", p)
		}
		if rec {
			recommended++
			if p != Secretbox {
				t.Fatalf("%s recommended", p)
			}
		}
	}
	if recommended != 1 {
		t.Fatalf("%d recommended providers", recommended)
	}
	if _, g, _ := ProviderInfo(AESGCM); !strings.Contains(g, "200,000") {
		t.Fatalf("aesgcm guidance: %s", g)
	}
	if _, g, _ := ProviderInfo(AESCBC); !strings.Contains(g, "padding-oracle") {
		t.Fatalf("aescbc guidance: %s", g)
	}
	if _, err := ParseProvider("AESCBC"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProvider("rot13"); err == nil || !strings.Contains(err.Error(), "choose one of secretbox") {
		t.Fatalf("err = %v", err)
	}
	if got := DefaultKeyName(time.Date(2025, 3, 4, 23, 0, 0, 0, time.UTC)); got != "key-20250304" {
		t.Fatalf("key name %s", got)
	}
}
