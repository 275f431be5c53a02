package config

import (
	"bytes"
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// Print renders the effective configuration as YAML under its koanf key
// names, with durations readable and secrets redacted.
func (c *Config) Print() (string, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(plain(reflect.ValueOf(*c))); err != nil {
		return "", fmt.Errorf("print configuration: %w", err)
	}
	return out.String(), nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// plain turns a configuration value into maps, slices and scalars.
func plain(v reflect.Value) any {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == secretType:
		return Secret(v.String()).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			switch tag := f.Tag.Get("koanf"); tag {
			case "", "-":
			case ",squash": // the embedded struct's keys are this one's
				for k, x := range plain(v.Field(i)).(map[string]any) {
					m[k] = x
				}
			default:
				m[tag] = plain(v.Field(i))
			}
		}
		return m
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[fmt.Sprint(k.Interface())] = plain(v.MapIndex(k))
		}
		return m
	case reflect.Slice:
		s := make([]any, v.Len())
		for i := range s {
			s[i] = plain(v.Index(i))
		}
		return s
	default:
		return v.Interface()
	}
}
