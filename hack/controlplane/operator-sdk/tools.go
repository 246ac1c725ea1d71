//go:build tools

package tools

import _ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
