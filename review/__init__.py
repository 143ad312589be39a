"""`make review`: a PR change report of every stack, from the offline render of two source trees."""
