package conf

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "100B", want: 100},
		{in: "100b", want: 100},
		{in: "64KiB", want: 64 << 10},
		{in: "64kib", want: 64 << 10},
		{in: "512MiB", want: 512 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "1TiB", want: 1 << 40},
		{in: "1KB", want: 1000},
		{in: "3MB", want: 3_000_000},
		{in: "1GB", want: 1_000_000_000},
		{in: "1TB", want: 1_000_000_000_000},
		{in: "8k", want: 8 << 10},
		{in: "8M", want: 8 << 20},
		{in: "1g", want: 1 << 30},
		{in: " 512 MiB ", want: 512 << 20},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "4194304TiB", want: 1 << 62},           // the largest a unit allows
		{in: "4194305TiB", wantErr: true},           // overflow
		{in: "99999999999999999999", wantErr: true}, // overflows int64
		{in: "-1", wantErr: true},
		{in: "-1KiB", wantErr: true},
		{in: "1.5GiB", wantErr: true}, // integers only
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "12 parsecs", wantErr: true},
		{in: "0x10", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{KiB, "1KiB"},
		{1536, "1536B"},
		{64 * KiB, "64KiB"},
		{512 * MiB, "512MiB"},
		{3 * GiB, "3GiB"},
		{1024 * GiB, "1024GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
			back, err := ParseSize(tt.want)
			if err != nil || back != tt.in {
				t.Fatalf("ParseSize(%q) = %d, %v; want the round trip to give %d", tt.want, back, err, tt.in)
			}
		})
	}
}

func TestDurationUnmarshalText(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "0s", want: 0},
		{in: "0", want: 0}, // Go's one unitless duration
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: "30s", want: 30 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "24h", want: 24 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: " 10s ", want: 10 * time.Second},
		{in: "2562047h", want: 2562047 * time.Hour},
		{in: "30", wantErr: true}, // units are required
		{in: "1.5", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "-0.5ms", wantErr: true},
		{in: "9999999999h", wantErr: true}, // overflow
		{in: "", wantErr: true},
		{in: "ten seconds", wantErr: true},
		{in: "10 s", wantErr: true},
		{in: "1d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("UnmarshalText(%q) = %v, want an error", tt.in, d)
				}
				return
			}
			if err != nil || d.D() != tt.want {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", tt.in, d.D(), err, tt.want)
			}
			text, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Fatalf("round trip of %v through %q gave %v, %v", d, text, back, err)
			}
		})
	}
}
