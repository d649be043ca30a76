package render

import "testing"

func TestUsePlain(t *testing.T) {
	tests := []struct {
		name      string
		isTTY     bool
		plainFlag bool
		env       map[string]string
		want      bool
	}{
		{"terminal", true, false, map[string]string{"TERM": "xterm-256color"}, false},
		{"terminal, empty env", true, false, nil, false},
		{"pipe", false, false, map[string]string{"TERM": "xterm-256color"}, true},
		{"--plain on a terminal", true, true, map[string]string{"TERM": "xterm-256color"}, true},
		{"NO_COLOR set", true, false, map[string]string{"NO_COLOR": "1", "TERM": "xterm"}, true},
		{"NO_COLOR empty is unset", true, false, map[string]string{"NO_COLOR": "", "TERM": "xterm"}, false},
		{"TERM=dumb", true, false, map[string]string{"TERM": "dumb"}, true},
		{"TERM unset", true, false, map[string]string{}, false},
		{"pipe and --plain", false, true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			if got := UsePlain(tt.isTTY, tt.plainFlag, env); got != tt.want {
				t.Errorf("UsePlain(%v, %v, %v) = %v, want %v", tt.isTTY, tt.plainFlag, tt.env, got, tt.want)
			}
		})
	}
}

func TestUsePlainNilEnv(t *testing.T) {
	if UsePlain(true, false, nil) {
		t.Error("UsePlain(true, false, nil) = true, want false")
	}
	if !UsePlain(false, false, nil) {
		t.Error("UsePlain(false, false, nil) = false, want true")
	}
}
