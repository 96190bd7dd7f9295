/* dispatch: being written */
