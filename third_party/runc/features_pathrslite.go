//go:build !libpathrs

package main

func pathrsVersionString() string {
	return ""
}
